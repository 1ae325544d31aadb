/**
 * What the gateway's answering endpoints share: the parts of the gateway they answer through, the idle timeout while
 * an answer streams, and how a route, a stall and an answer that ended early are logged.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SwitchyardConfig, TaskName } from '../config/config';
import type { Logger } from '../host';
import type { FinishReason, RelayedAnswer, ToolCallArgsEvent, ToolCallStartEvent } from '../providers/types';
import { RouteError, type RoutedChatEvent, type RouteEvent, type Router } from '../routing/router';
import type { UsageRecord } from '../usage/ledger';
import { describeAttempts, describeCandidate } from '../describe';
import { GatewayError } from './wire';

/** What the gateway reads at request time (a Switchyard satisfies it). */
export interface GatewaySource {
  readonly router: Router;
  readonly config: SwitchyardConfig;
}

/** The parts of the gateway an endpoint answers through (the Gateway hands them over; see server.ts). */
export interface EndpointHost {
  readonly source: GatewaySource;
  readonly logger: Logger;
  /** A requested model name as the chat task (and the one candidate, for a real model name) it routes to. */
  resolve(model: string): Promise<{ task: TaskName; only?: string }>;
  readJson(req: IncomingMessage, res: ServerResponse): Promise<unknown>;
  /** The idle timeout in force now, in ms (0: none). */
  idleTimeoutMs(): number;
}

/**
 * Logs the route an answer took. Called as the answer starts, it writes once the current turn of the event loop is
 * done: after the answer's first bytes went out (a log line is not on the way to the first token).
 */
export function logRoute(logger: Logger, endpoint: string, route: RouteEvent): void {
  setImmediate(writeRoute, logger, endpoint, route);
}

function writeRoute(logger: Logger, endpoint: string, route: RouteEvent): void {
  const fallback = route.fallback ? ` after ${describeAttempts(route.attempts.filter((a) => a.outcome !== 'answered'))}` : '';
  logger.info(`gateway ${endpoint}: ${route.requested} → ${describeCandidate(route, `task ${route.task}`)}${fallback}`);
}

/**
 * Once an answer started, an upstream that goes quiet for the idle timeout ends the request with an error (the
 * router's first-token timeout covers the time before). Paused while the client is not reading (backpressure).
 *
 * `touch` runs for every token of every stream, so it only notes the time: the one timer, when it fires, looks at
 * how long ago the last touch was and waits out the rest (no timer is cleared and set again per token).
 */
export class IdleWatch {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private last = 0;
  /** The timeout fired: the answer was ended. */
  stalled = false;

  constructor(
    private readonly ms: number,
    private readonly onIdle: () => void,
    private readonly now: () => number = performance.now.bind(performance),
  ) {}

  /** Something arrived: the wait starts again. */
  touch(): void {
    if (this.ms <= 0 || this.stalled) return;
    this.last = this.now();
    this.timer ??= setTimeout(this.check, this.ms);
  }

  pause(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private readonly check = (): void => {
    const quiet = this.now() - this.last;
    if (quiet < this.ms) {
      this.timer = setTimeout(this.check, this.ms - quiet);
      return;
    }
    this.timer = undefined;
    this.stalled = true;
    this.onIdle();
  };
}

/** An answer being built from the router's events (one per request). */
export interface AnswerSink {
  route(route: RouteEvent): void;
  text(text: string): void;
  /** A thinking model's reasoning. */
  reasoning(text: string): void;
  toolCall(ev: ToolCallStartEvent): void;
  toolCallArgs(ev: ToolCallArgsEvent): void;
  toolCallEnd(index: number): void;
  /** The server's own events (only when the request asked for a relay). */
  relay(answer: RelayedAnswer): void;
  done(usage: UsageRecord, finish: FinishReason | undefined): void;
}

/**
 * Hands the router's events to the answer, each one restarting the idle watch, until they end or the watch fired
 * (the watch is paused while the client is gone, and when they end).
 */
export async function answerEvents(
  res: ServerResponse,
  events: AsyncIterable<RoutedChatEvent>,
  idle: IdleWatch,
  answer: AnswerSink,
): Promise<void> {
  const pause = () => idle.pause();
  res.once('close', pause);
  try {
    for await (const ev of events) {
      if (idle.stalled) break;
      idle.touch();
      if (ev.type === 'route') answer.route(ev.route);
      else if (ev.type === 'text') answer.text(ev.text);
      else if (ev.type === 'reasoning') answer.reasoning(ev.text);
      else if (ev.type === 'toolCall') answer.toolCall(ev);
      else if (ev.type === 'toolCallArgs') answer.toolCallArgs(ev);
      else if (ev.type === 'toolCallEnd') answer.toolCallEnd(ev.index);
      else if (ev.type === 'relay') answer.relay(ev.answer);
      else {
        idle.pause();
        answer.done(ev.usage, ev.finish);
      }
    }
  } finally {
    idle.pause();
    res.off('close', pause);
  }
}

/** The error (logged) that ends an answer whose upstream went quiet for `idleMs`. */
export function stallError(logger: Logger, endpoint: string, requested: string, model: string, idleMs: number): GatewayError {
  const seconds = Math.round(idleMs / 100) / 10;
  logger.warn(`gateway ${endpoint}: ${requested} → ${model} stalled for ${seconds} s mid-answer; ended the request`);
  const message =
    `${model} sent nothing for ${seconds} s in the middle of its answer (switchyard.gateway.idleTimeoutSeconds): ` +
    'the gateway ended the request.';
  return new GatewayError(504, message, 'server_error', 'upstream_timeout');
}

/**
 * Logs an answer that failed: canceled by the client (true: nothing more to answer), or the route's failure (false:
 * the caller answers it).
 */
export function loggedEnd(
  logger: Logger,
  endpoint: string,
  requested: string,
  e: unknown,
  signal: AbortSignal,
  route?: RouteEvent,
): boolean {
  if (signal.aborted) {
    logger.info(`gateway ${endpoint}: ${requested} canceled by the client${route ? ` (${route.providerId}/${route.model})` : ''}`);
    return true;
  }
  if (e instanceof RouteError) logger.warn(`gateway ${endpoint}: ${requested} failed (${e.kind}): ${describeAttempts(e.attempts)}`);
  return false;
}
