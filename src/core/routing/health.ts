/**
 * Cached provider health. A provider that fails with a connection-level kind (refused, timeout, 5xx, 429) cools
 * down: the router skips it until the cool-down ends, then tries (or probes) it again. Repeated failures double
 * the cool-down, up to a ceiling; one success clears it.
 */
import type { ErrorKind } from '../errors';
import { systemClock, type Clock } from '../host';

export interface HealthState {
  healthy: boolean;
  /** When the provider may be tried again (clock ms). */
  retryAt: number;
  failures: number;
  lastKind?: ErrorKind;
  lastReason?: string;
  /** When health was last learnt (clock ms). */
  checkedAt: number;
}

export const MAX_COOLDOWN_MS = 5 * 60_000;

/** A provider's health turned: healthy → failed, failed → healthy, first learnt, or forgotten (`state` undefined). */
export type HealthListener = (providerId: string, state: HealthState | undefined) => void;

export class HealthCache {
  private readonly states = new Map<string, HealthState>();
  private readonly listeners = new Set<HealthListener>();

  constructor(
    private cooldownMs: number,
    private readonly clock: Clock = systemClock,
  ) {}

  setCooldown(ms: number): void {
    this.cooldownMs = ms;
  }

  get(providerId: string): HealthState | undefined {
    return this.states.get(providerId);
  }

  /** Milliseconds left in the provider's cool-down, 0 when it may be tried. */
  coolingFor(providerId: string): number {
    const s = this.states.get(providerId);
    if (!s || s.healthy) return 0;
    return Math.max(0, s.retryAt - this.clock.now());
  }

  /**
   * Calls `listener` whenever a provider's health turns (not on every request that confirms it), so what shows a
   * route (the status bar, the chat's header, the index's note) follows a server going down or coming back. Called
   * synchronously from inside routing: a listener that re-plans should defer.
   */
  onChange(listener: HealthListener): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  private set(providerId: string, next: HealthState): void {
    const prev = this.states.get(providerId);
    this.states.set(providerId, next);
    if (prev?.healthy !== next.healthy) this.notify(providerId, next);
  }

  private notify(providerId: string, state: HealthState | undefined): void {
    for (const l of this.listeners) {
      try {
        l(providerId, state);
      } catch {
        // a listener's failure is not the router's
      }
    }
  }

  markHealthy(providerId: string): void {
    this.set(providerId, { healthy: true, retryAt: 0, failures: 0, checkedAt: this.clock.now() });
  }

  markFailed(providerId: string, kind: ErrorKind, reason: string, retryAfterSeconds?: number): void {
    const prev = this.states.get(providerId);
    const failures = (prev && !prev.healthy ? prev.failures : 0) + 1;
    const backoff = Math.min(MAX_COOLDOWN_MS, this.cooldownMs * 2 ** (failures - 1));
    const wait = Math.max(backoff, (retryAfterSeconds ?? 0) * 1000);
    const now = this.clock.now();
    this.set(providerId, { healthy: false, retryAt: now + wait, failures, lastKind: kind, lastReason: reason, checkedAt: now });
  }

  clear(): void {
    const ids = [...this.states.keys()];
    this.states.clear();
    for (const id of ids) this.notify(id, undefined);
  }
}
