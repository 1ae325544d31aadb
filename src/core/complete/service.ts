/**
 * The completion service: what an editor (the VS Code InlineCompletionItemProvider), the CLI (`switchyard complete`)
 * or a test uses to get one inline suggestion. It plans the `complete` route, picks the FIM template of the model
 * that serves it, and runs the Completer (cache, debounce and supersede, post-processing) with each request going
 * through `Router.complete` (health, cool-down, privacy with switchyard.completion.allowCloud, fallback, egress
 * redaction, the usage ledger).
 *
 * Built from the Switchyard core object: `new CompletionService(sy, { usage: ledger })`. Settings are read from
 * `sy.config` at each call, so a changed setting applies to the next keystroke; a changed config also clears the
 * cache (another model may serve now).
 *
 * Nothing here records or logs code: usage records carry counts and latencies only.
 */
import type { SwitchyardConfig } from '../config/config';
import type { Logger } from '../host';
import type { Router } from '../routing/router';
import type { SuggestionRecord, UsageSink } from '../usage/ledger';
import type { Snippet } from './templates';
import type { SchedulerClock } from './scheduler';

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
  /** Overrides switchyard.completion.debounceMs (the CLI: 0). */
  debounceMs?: number;
  /** Tests and benches. */
  clock?: SchedulerClock;
}

export interface Disposable {
  dispose(): void;
}

export type { SuggestionRecord };

/** How long `snooze()` turns completions off by default. */
export const DEFAULT_SNOOZE_MS = 5 * 60_000;

export declare class CompletionServiceApi {
  constructor(source: CompletionSource, options?: CompletionServiceOptions);
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
