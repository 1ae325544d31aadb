/**
 * What an editor, the CLI or a test sees of the completion service (service.ts): the cursor's context it gives, the
 * suggestion it gets back, the status the status bar shows, and the service's methods.
 */
import type { SwitchyardConfig } from '../config/config';
import type { Logger } from '../host';
import type { Router } from '../routing/router';
import type { UsageSink } from '../usage/ledger';
import type { SchedulerClock } from './scheduler';
import type { Snippet } from './templates';

/** Where the cursor is, as the editor knows it. The service cuts prefix and suffix to the token budgets itself. */
export interface EditorContext {
  /** The file's path as the model should see it (workspace-relative where possible). Used in repository-level
   *  prompts and `input_extra`; never logged or recorded. */
  filePath: string;
  /** The editor's language id ("typescript"); switchyard.completion.excludeLanguages is matched against it. */
  languageId: string;
  /** The document's text before the cursor (all of it is fine: the service keeps the lines within maxPrefixTokens). */
  prefix: string;
  /** The document's text after the cursor (kept within maxSuffixTokens). */
  suffix: string;
  /** Snippets of other files (recently edited, index hits near the cursor), most relevant first. */
  extra?: readonly Snippet[];
  /** The workspace folder's name, for repository-level templates. */
  repo?: string;
  /** The 1-based line of the document where `prefix` starts (default 1: the prefix is the document's start). Only
   *  for the egress record of a cloud completion (which lines left the machine). */
  firstLine?: number;
}

/** Who serves (or served) a completion. */
export interface CompletionRoute {
  providerId: string;
  model: string;
  /** The code stayed on this machine (or a host the user marked local). */
  local: boolean;
}

export interface ServedCompletion {
  /** Identifies this suggestion for `shown` / `accepted`. */
  id: string;
  /** The text to insert at the cursor (never empty, never only whitespace). */
  text: string;
  /** `model`: a new request answered; `cache`: the same context was answered before; `typedAhead`: the rest of a
   *  suggestion whose first characters the user typed. */
  source: 'cache' | 'typedAhead' | 'model';
  route: CompletionRoute;
  /** From the call to the answer, debounce included. */
  latencyMs: number;
}

/**
 * What the status bar shows.
 * - `enabled`: completions are on and `route` serves them (the first candidate the route would use now).
 * - `disabled`: switchyard.completion.enabled is false.
 * - `snoozed`: `snooze()` was called; `until` is a Date.now() time.
 * - `noModel`: on, but no candidate can serve: no local code model found, or every one is skipped (instruct-only
 *   models: "no fill-in-the-middle"), cloud off for completions. `reason` says why, in words.
 */
export type CompletionStatus =
  | { state: 'enabled'; route: CompletionRoute; debounceMs: number }
  | { state: 'disabled' }
  | { state: 'snoozed'; until: number }
  | { state: 'noModel'; reason: string };

/** What the service needs of the core (a `Switchyard` satisfies it). */
export interface CompletionSource {
  readonly router: Router;
  readonly config: SwitchyardConfig;
}

export interface CompletionServiceOptions {
  /** Where `shown` / `accepted` go (the router records each request in its own sink). */
  usage?: UsageSink;
  logger?: Logger;
  /** Overrides switchyard.completion.debounceMs (the CLI: 0, which also turns the adaptive part off). */
  debounceMs?: number;
  /** Tests and benches. */
  clock?: SchedulerClock;
}

export interface Disposable {
  dispose(): void;
}

export interface CompletionServiceApi {
  /**
   * One suggestion for the cursor, or undefined when there is nothing to show: completions disabled or snoozed, the
   * language excluded, the request superseded by a newer call or aborted by `signal`, the model had nothing, or
   * post-processing dropped it. A cache hit answers at once (no debounce). Rejects with a RouteError (kind: config
   * when no model can serve, unreachable, timeout, …) when no candidate could answer.
   */
  complete(context: EditorContext, signal?: AbortSignal): Promise<ServedCompletion | undefined>;
  /** Cancels whatever is waiting or running (the editor lost focus, completions turned off). */
  cancel(): void;
  /** On/off/snoozed/no model, and the model that would serve now. `probe`: health-check and discover first. */
  status(options?: { probe?: boolean; signal?: AbortSignal }): Promise<CompletionStatus>;
  /** Fires when the status may have changed (snooze, resume, a different model answered, a failure, new settings). */
  onDidChangeStatus(listener: (status: CompletionStatus) => void): Disposable;
  /** Turns completions off for `ms` (default 5 minutes). */
  snooze(ms?: number): void;
  resume(): void;
  /** Whether switchyard.completion.excludeLanguages lists the language. */
  isExcluded(languageId: string): boolean;
  /** The editor showed the suggestion (records counts and latency in the usage ledger, never the text). */
  shown(completion: ServedCompletion): void;
  /** The user accepted it, whole or in part (`acceptedText`: the part accepted, when partial). */
  accepted(completion: ServedCompletion, acceptedText?: string): void;
  dispose(): void;
}
