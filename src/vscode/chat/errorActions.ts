/**
 * Typed errors → words and actions for the chat view (STYLE.md 10: never branch on message text). Pure, so unit
 * tests reach it without VS Code.
 */
import type { ErrorKind } from '../../core/errors';
import type { RouteAttempt } from '../../core/routing/router';
import type { ProviderConfig } from '../../core/providers/types';
import type { ErrorAction } from '../../protocol/chat';

export function errorActions(
  kind: ErrorKind | string,
  attempts: readonly RouteAttempt[],
  providers: readonly ProviderConfig[],
  has: { pullModel: boolean },
): ErrorAction[] {
  const actions: ErrorAction[] = [];
  const kindOf = (id: string) => providers.find((p) => p.id === id)?.kind;
  const failed = attempts.filter((a) => a.outcome !== 'answered');
  const ollamaDown = failed.some((a) => (a.kind === 'unreachable' || a.kind === 'timeout') && kindOf(a.providerId) === 'ollama');
  if (ollamaDown || (kind === 'config' && attempts.length === 0)) actions.push({ id: 'startOllama', label: 'Start Ollama' });
  const missing = failed.find((a) => a.kind === 'modelMissing' && kindOf(a.providerId) === 'ollama');
  if (missing && has.pullModel) actions.push({ id: 'pullModel', label: `Pull ${missing.model}`, arg: `${missing.providerId}/${missing.model}` });
  const auth = failed.find((a) => a.kind === 'auth');
  if (auth || kind === 'auth') actions.push({ id: 'setApiKey', label: 'Set API Key', arg: auth?.providerId });
  if (kind !== 'canceled') actions.push({ id: 'openSettings', label: kind === 'policy' || failed.some((a) => a.kind === 'policy') ? 'Open Privacy Settings' : 'Open Settings' });
  if (kind !== 'config') actions.push({ id: 'retry', label: 'Retry' });
  if (kind === 'server' || kind === 'timeout' || kind === 'rateLimited') actions.push({ id: 'showLogs', label: 'Show Logs' });
  return actions;
}

/** "box/qwen2.5-coder:7b failed (unreachable: …)" for the attempts before the one that answered. */
export function fallbackReason(attempts: readonly RouteAttempt[]): string | undefined {
  const before = attempts.filter((a) => a.outcome !== 'answered');
  if (before.length === 0) return undefined;
  return before
    .map((a) => `${a.providerId}${a.model ? `/${a.model}` : ''} ${a.outcome === 'skipped' ? 'skipped' : 'failed'}${a.reason ? ` (${a.kind ? `${a.kind}: ` : ''}${a.reason})` : ''}`)
    .join('; ');
}
