/**
 * The gateway's idle watch (endpoint.ts): a touch per token only notes the time, and the one timer waits out the
 * rest of the timeout when it fires. Driven with node:test's mock timers and the watch's clock set to the mock's.
 */
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { IdleWatch } from '../../src/core/gateway/endpoint';

/** A watch of `ms` on mock timers; `fired()` counts its timeouts, `tick` moves the clock. */
function onMockClock(ms: number, body: (watch: IdleWatch, fired: () => number, tick: (ms: number) => void) => void): void {
  mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  try {
    let count = 0;
    const watch = new IdleWatch(
      ms,
      () => count++,
      () => Date.now(),
    );
    body(
      watch,
      () => count,
      (by) => mock.timers.tick(by),
    );
  } finally {
    mock.timers.reset();
  }
}

test('the watch fires only after a full timeout without a touch, however the touches fall', () => {
  onMockClock(1000, (watch, fired, tick) => {
    watch.touch();
    tick(600);
    watch.touch();
    // The timer set by the first touch fires now: 400 ms after the last touch, it waits 600 ms more.
    tick(400);
    assert.equal(fired(), 0);
    assert.equal(watch.stalled, false);
    tick(599);
    assert.equal(fired(), 0);
    tick(1);
    assert.equal(fired(), 1);
    assert.equal(watch.stalled, true);
    // Stalled is final: a late touch starts nothing.
    watch.touch();
    tick(5000);
    assert.equal(fired(), 1);
  });
});

test('a paused watch does not fire, and a touch after the pause starts a full timeout', () => {
  onMockClock(1000, (watch, fired, tick) => {
    watch.touch();
    tick(500);
    watch.pause();
    tick(5000);
    assert.equal(fired(), 0);
    watch.touch();
    tick(999);
    assert.equal(fired(), 0);
    tick(1);
    assert.equal(fired(), 1);
  });
});

test('a timeout of 0 watches nothing', () => {
  onMockClock(0, (watch, fired, tick) => {
    watch.touch();
    tick(60_000);
    assert.equal(fired(), 0);
  });
});
