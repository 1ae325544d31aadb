/**
 * How a route is shown, in one place for every caller (router and gateway logs, errors, the CLI, the status bar, the
 * chat view, the settings panel, the usage line). Structural types only and no imports of other parts, so core's
 * lowest layers (usage) may use it as well as the adapter and the CLI.
 */

interface Named {
  providerId: string;
  /** Empty when a provider was skipped before its models were known. */
  model: string;
}

/** "box/qwen2.5-coder:7b", or just "box" when the model is not known. */
export function candidateName(c: Named): string {
  return `${c.providerId}${c.model ? `/${c.model}` : ''}`;
}

/** "box/qwen2.5-coder:7b (local)"; notes go inside the parentheses: "openai/gpt-4.1 (cloud, asks first)". */
export function describeCandidate(c: Named & { local: boolean }, ...notes: string[]): string {
  return `${c.providerId}/${c.model} (${[c.local ? 'local' : 'cloud', ...notes].join(', ')})`;
}

interface Attempt extends Named {
  outcome: 'skipped' | 'failed' | 'answered';
  reason?: string;
  kind?: string;
}

/**
 * "box/qwen2.5-coder:7b failed (unreachable: …); cloud/gpt skipped (policy: …)". Kinds are shown by identifier (logs,
 * error messages); the adapter passes its words for them ("server not reachable").
 */
export function describeAttempts(attempts: readonly Attempt[], kindWords: (kind: string) => string = (kind) => kind): string {
  return attempts
    .map((a) => `${candidateName(a)} ${a.outcome}${a.reason ? ` (${a.kind ? `${kindWords(a.kind)}: ` : ''}${a.reason})` : ''}`)
    .join('; ');
}

/** A plan's answer: "box/qwen2.5-coder:7b (local)", "openai/gpt-4.1 (cloud, asks first)" or "no model available". */
export function describePlan(plan: { candidate?: (Named & { local: boolean }) | null; asksFirst?: boolean }): string {
  return plan.candidate ? describeCandidate(plan.candidate, ...(plan.asksFirst ? ['asks first'] : [])) : 'no model available';
}

/** A candidate a plan skipped: "box/qwen2.5-coder:7b: server not reachable". */
export function describeSkip(s: Named & { reason: string }): string {
  return `${candidateName(s)}: ${s.reason}`;
}
