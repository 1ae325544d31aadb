/**
 * The gateway's model names: the virtual ones (`switchyard/<task>`, `switchyard/<alias>`) and the real models the
 * tasks can route to now, as GET /v1/models lists them, and what a requested name resolves to. Read from the current
 * settings on every request, so a changed alias applies to the next one.
 */
import { CHAT_TASKS, TASKS, isTaskName, type SwitchyardConfig, type TaskName } from '../config/config';
import { resolveTaskName } from '../routing/router';
import type { GatewaySource } from './endpoint';
import { GatewayError } from './wire';

export interface ModelId {
  id: string;
  owned_by: string;
  task?: string;
}

/** A task's candidates the privacy policy allows (health can change by the time of a request). */
async function routable(source: GatewaySource, task: TaskName): Promise<{ providerId: string; model: string }[]> {
  try {
    const plan = await source.router.plan(task);
    const list = plan.candidate ? [plan.candidate] : [];
    for (const s of plan.skipped) if (s.kind !== 'policy' && s.kind !== 'config' && s.model) list.push(s);
    return list;
  } catch {
    return [];
  }
}

/** Virtual names, then the real models the tasks can route to now. */
export async function modelIds(source: GatewaySource): Promise<ModelId[]> {
  const config = source.config;
  const out: ModelId[] = [];
  for (const t of TASKS) out.push({ id: `switchyard/${t}`, owned_by: 'switchyard', task: t });
  for (const [alias, target] of Object.entries(config.aliases)) {
    out.push({ id: `switchyard/${alias}`, owned_by: 'switchyard', task: target });
  }
  const seen = new Set(out.map((m) => m.id));
  for (const t of TASKS) {
    for (const c of await routable(source, t)) {
      const id = `${c.providerId}/${c.model}`;
      if (!seen.has(id)) {
        seen.add(id);
        out.push({ id, owned_by: c.providerId });
      }
    }
  }
  return out;
}

export function unknownModel(config: SwitchyardConfig, requested: string): GatewayError {
  const names = [...TASKS, ...Object.keys(config.aliases)].map((n) => `switchyard/${n}`).join(', ');
  const what = requested.startsWith('switchyard/')
    ? `"${requested}" is not a Switchyard task or a configured alias`
    : `"${requested}" is not a model Switchyard routes to`;
  const message = `${what}. Use one of ${names}, add the alias to switchyard.aliases, or list models with GET /v1/models.`;
  return new GatewayError(400, message, 'invalid_request_error', 'model_not_found', 'model');
}

/** A task name asked of the wrong endpoint (the completion task of chat, chat of embeddings, …), else undefined. */
function wrongEndpoint(task: TaskName, requested: string, kind: 'chat' | 'embed'): GatewayError | undefined {
  let message: string | undefined;
  if (kind === 'chat' && task === 'complete') {
    message = `"${requested}" is the completion task; it fills in code through POST /v1/completions, not chat.`;
  } else if ((kind === 'embed') !== (task === 'embed')) {
    message =
      kind === 'embed'
        ? `"${requested}" is a chat task; embeddings need switchyard/embed or an alias of it.`
        : `"${requested}" is the embedding task; chat needs switchyard/chat or another chat task.`;
  }
  return message === undefined ? undefined : new GatewayError(400, message, 'invalid_request_error', 'model_not_found', 'model');
}

/**
 * The task (and, for a real model name, the one candidate) a requested name resolves to, read from the current
 * settings, so a changed alias applies to the next request.
 */
export async function resolveModel(
  source: GatewaySource,
  requested: string,
  kind: 'chat' | 'embed',
): Promise<{ task: TaskName; only?: string }> {
  const config = source.config;
  const task = resolveTaskName(requested, config.aliases);
  if (task) {
    const wrong = wrongEndpoint(task, requested, kind);
    if (wrong) throw wrong;
    return { task };
  }
  if (!requested.startsWith('switchyard/') && !isTaskName(requested) && requested.includes('/')) {
    for (const t of kind === 'embed' ? (['embed'] as TaskName[]) : CHAT_TASKS) {
      if ((await routable(source, t)).some((c) => `${c.providerId}/${c.model}` === requested)) return { task: t, only: requested };
    }
  }
  throw unknownModel(config, requested);
}
