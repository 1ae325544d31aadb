/**
 * Typed errors → words and actions for the chat view (STYLE.md 10: never branch on message text). Pure, so unit
 * tests reach it without VS Code.
 */
import type { ErrorKind } from '../../core/errors';
import { describeAttempts } from '../../core/describe';
import type { RouteAttempt } from '../../core/routing/router';
import type { ProviderConfig } from '../../core/providers/types';
import type { ErrorAction } from '../../protocol/chat';

export function errorActions(
  kind: ErrorKind | string,
  attempts: readonly RouteAttempt[],
  providers: readonly ProviderConfig[],
  has: { pullModel: boolean; ignoredEntries?: boolean },
): ErrorAction[] {
  const actions: ErrorAction[] = [];
  const kindOf = (id: string) => providers.find((p) => p.id === id)?.kind;
  const failed = attempts.filter((a) => a.outcome !== 'answered');
  const ollamaDown = failed.some((a) => (a.kind === 'unreachable' || a.kind === 'timeout') && kindOf(a.providerId) === 'ollama');
  // A task whose entries were all ignored needs its settings fixed, not a server started.
  if (ollamaDown || (kind === 'config' && attempts.length === 0 && !has.ignoredEntries))
    actions.push({ id: 'startOllama', label: 'Start Ollama' });
  const missing = failed.find((a) => a.kind === 'modelMissing' && kindOf(a.providerId) === 'ollama');
  if (missing && has.pullModel)
    actions.push({ id: 'pullModel', label: `Pull ${missing.model}`, arg: `${missing.providerId}/${missing.model}` });
  const auth = failed.find((a) => a.kind === 'auth');
  if (auth || kind === 'auth') actions.push({ id: 'setApiKey', label: 'Set API Key', arg: auth?.providerId });
  if (kind !== 'canceled')
    actions.push({
      id: 'openSettings',
      label: kind === 'policy' || failed.some((a) => a.kind === 'policy') ? 'Open Privacy Settings' : 'Open Settings',
    });
  if (kind !== 'config') actions.push({ id: 'retry', label: 'Retry' });
  if (kind === 'server' || kind === 'timeout' || kind === 'rateLimited') actions.push({ id: 'showLogs', label: 'Show Logs' });
  return actions;
}

/** What a fallback notice offers: Pull for each model a local Ollama server lacked (when Pull Model exists). */
export function fallbackActions(
  attempts: readonly RouteAttempt[],
  providers: readonly ProviderConfig[],
  has: { pullModel: boolean },
): ErrorAction[] {
  if (!has.pullModel) return [];
  const kindOf = (id: string) => providers.find((p) => p.id === id)?.kind;
  return attempts
    .filter((a) => a.outcome === 'failed' && a.kind === 'modelMissing' && a.model && kindOf(a.providerId) === 'ollama')
    .map((a) => ({ id: 'pullModel' as const, label: `Pull ${a.model}`, arg: `${a.providerId}/${a.model}` }));
}

/** Each error kind in words, as the chat view shows it (never the kind's identifier, such as `modelMissing`). */
const KIND_WORDS: Record<ErrorKind, string> = {
  unreachable: 'server not reachable',
  timeout: 'timed out',
  auth: 'API key missing or refused',
  modelMissing: 'model not found',
  rateLimited: 'rate limited',
  contextOverflow: 'prompt too long for the model',
  server: 'server error',
  canceled: 'canceled',
  policy: 'not allowed by the privacy settings',
  config: 'no model configured',
  unsupported: 'the model cannot do this',
};

export function kindInWords(kind: ErrorKind | string): string {
  return Object.hasOwn(KIND_WORDS, kind) ? KIND_WORDS[kind as ErrorKind] : 'error';
}

/** "box/qwen2.5-coder:7b failed (server not reachable: …); cloud/gpt skipped (…)". */
export function attemptsInWords(attempts: readonly RouteAttempt[]): string {
  return describeAttempts(attempts, kindInWords);
}

/** "box/qwen2.5-coder:7b failed (server not reachable: …)" for the attempts before the one that answered. */
export function fallbackReason(attempts: readonly RouteAttempt[]): string | undefined {
  const before = attempts.filter((a) => a.outcome !== 'answered');
  if (before.length === 0) return undefined;
  return attemptsInWords(before);
}

/**
 * What a failed turn shows: the kind in words as its title, and a message that names each candidate tried with
 * its failure in words (the core's message names kinds by identifier, for logs). A failure after an answer had
 * started (an attempt answered) keeps the core's message, which says the partial answer is kept.
 */
export function errorText(
  kind: ErrorKind | string,
  message: string,
  attempts: readonly RouteAttempt[],
  ignored?: { task: string; problem: string },
): { title: string; message: string } {
  if (ignored && kind === 'config' && attempts.length === 0) {
    return {
      title: 'settings need fixing',
      message: `${ignored.task} has no model: its entries in switchyard.tasks.${ignored.task} were ignored. ${ignored.problem}`,
    };
  }
  const noneAnswered = attempts.length > 0 && !attempts.some((a) => a.outcome === 'answered');
  return {
    title: kindInWords(kind),
    message: noneAnswered && kind !== 'canceled' ? `No model could answer: ${attemptsInWords(attempts)}.` : message,
  };
}

/**
 * Test connection's failure in words. Refused for want of a key (no stored key, no key variable set) says so,
 * rather than showing the server's 401 to the placeholder the client sent.
 */
export function testFailure(
  providerId: string,
  kind: ErrorKind | string,
  message: string,
  hasKey: boolean,
): { ok: false; errorKind: string; message: string } {
  if (kind === 'auth' && !hasKey)
    return {
      ok: false,
      errorKind: kind,
      message: `no API key set for ${providerId}: set one with the key button (it is kept in SecretStorage)`,
    };
  return { ok: false, errorKind: kind, message: `${kindInWords(kind)}: ${message}` };
}
