/**
 * The gateway's idle watch (endpoint.ts): a touch per token only notes the time, and the one timer waits out the
 * rest of the timeout when it fires. Driven with node:test's mock timers and the watch's clock set to the mock's.
 */
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { IdleWatch } from '../../src/core/gateway/endpoint';

test('the watch fires only after a full timeout without a touch, however the touches fall', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  try {
    let fired = 0;
    const watch = new IdleWatch(
      1000,
      () => fired++,
      () => Date.now(),
    );
    watch.touch();
    mock.timers.tick(600);
    watch.touch();
    // The timer set by the first touch fires now: 400 ms after the last touch, it waits 600 ms more.
    mock.timers.tick(400);
    assert.equal(fired, 0);
    assert.equal(watch.stalled, false);
    mock.timers.tick(599);
    assert.equal(fired, 0);
    mock.timers.tick(1);
    assert.equal(fired, 1);
    assert.equal(watch.stalled, true);
    // Stalled is final: a late touch starts nothing.
    watch.touch();
    mock.timers.tick(5000);
    assert.equal(fired, 1);
  } finally {
    mock.timers.reset();
  }
});

test('a paused watch does not fire, and a touch after the pause starts a full timeout', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  try {
    let fired = 0;
    const watch = new IdleWatch(
      1000,
      () => fired++,
      () => Date.now(),
    );
    watch.touch();
    mock.timers.tick(500);
    watch.pause();
    mock.timers.tick(5000);
    assert.equal(fired, 0);
    watch.touch();
    mock.timers.tick(999);
    assert.equal(fired, 0);
    mock.timers.tick(1);
    assert.equal(fired, 1);
  } finally {
    mock.timers.reset();
  }
});

test('a timeout of 0 watches nothing', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  try {
    let fired = 0;
    const watch = new IdleWatch(
      0,
      () => fired++,
      () => Date.now(),
    );
    watch.touch();
    mock.timers.tick(60_000);
    assert.equal(fired, 0);
  } finally {
    mock.timers.reset();
  }
});
