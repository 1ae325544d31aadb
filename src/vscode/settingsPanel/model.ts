/**
 * What the settings panel and "Select Model for Task" share: the model options (discovery merged with the catalog),
 * the task lists as settings hold them, and writing them back. settings.json is the single source of truth; writes
 * go to user settings unless the workspace already sets the key (then the workspace, or the edit would not apply).
 * Provider lists and privacy are application-scoped and always written to user settings.
 */
import * as vscode from 'vscode';
import { CATALOG, lookupModel } from '../../core/config/catalog';
import { runsLocally } from '../../core/providers/cloudModels';
import type { CandidateSetting, TaskName } from '../../core/config/config';
import type { Switchyard } from '../../core/switchyard';
import type { CandidateView, ModelOption } from '../../protocol/settings';

const isEmbedding = (id: string, caps: { embeddings?: boolean }) => caps.embeddings === true || /embed/i.test(id);

export async function modelOptions(switchyard: Switchyard, refresh = false): Promise<ModelOption[]> {
  const registry = switchyard.registry;
  if (refresh) registry.forget();
  const out: ModelOption[] = [];
  await Promise.all(
    registry.list().map(async (p) => {
      const found = await registry.discover(p.id, AbortSignal.timeout(4000)).catch(() => []);
      const seen = new Set<string>();
      for (const m of found) {
        seen.add(m.id);
        const price = (m as { price?: { input: number; output: number } }).price;
        out.push({
          ref: `${p.id}/${m.id}`,
          providerId: p.id,
          // An Ollama cloud model behind a local daemon is cloud: the prompt leaves the machine.
          local: runsLocally(p, m.id, m),
          // A server that does not report a window: a same-named well-known model's window (never its price).
          contextLength: m.contextLength ?? lookupModel(undefined, m.id)?.contextWindow,
          price: runsLocally(p, m.id, m) ? undefined : price,
          chat: m.capabilities.chat !== false && !isEmbedding(m.id, m.capabilities),
          embeddings: isEmbedding(m.id, m.capabilities),
          tools: m.capabilities.tools,
          vision: m.capabilities.vision,
          catalogOnly: false,
        });
      }
      // A cloud preset's well-known models, even when listing failed (no key yet).
      if (p.preset && !p.local) {
        for (const e of CATALOG.filter((e) => e.provider === p.preset && !seen.has(e.id))) {
          out.push({
            ref: `${p.id}/${e.id}`,
            providerId: p.id,
            local: false,
            contextLength: e.contextWindow,
            price: e.price,
            chat: e.capabilities.chat !== false && !isEmbedding(e.id, e.capabilities),
            embeddings: isEmbedding(e.id, e.capabilities),
            tools: e.capabilities.tools,
            vision: e.capabilities.vision,
            catalogOnly: true,
          });
        }
      }
    }),
  );
  const order = registry.list().map((p) => p.id);
  return out.sort((a, b) => order.indexOf(a.providerId) - order.indexOf(b.providerId) || a.ref.localeCompare(b.ref));
}

export function toView(c: CandidateSetting): CandidateView {
  return {
    model: c.ref,
    temperature: c.temperature,
    maxTokens: c.maxTokens,
    contextSize: c.contextSize,
    ...(c.tools !== undefined ? { tools: c.tools } : {}),
    ...(c.vision !== undefined ? { vision: c.vision } : {}),
  };
}

/** A plain string when there are no parameters, the object form otherwise (as users write it by hand). */
function toSetting(c: CandidateView): string | Record<string, unknown> {
  if (
    c.temperature === undefined &&
    c.maxTokens === undefined &&
    c.contextSize === undefined &&
    c.tools === undefined &&
    c.vision === undefined
  )
    return c.model;
  const o: Record<string, unknown> = { model: c.model };
  if (c.temperature !== undefined) o.temperature = c.temperature;
  if (c.maxTokens !== undefined) o.maxTokens = c.maxTokens;
  if (c.contextSize !== undefined) o.contextSize = c.contextSize;
  if (c.tools !== undefined) o.tools = c.tools;
  if (c.vision !== undefined) o.vision = c.vision;
  return o;
}

export async function writeTask(task: TaskName, candidates: CandidateView[]): Promise<void> {
  const cfg = vscode.workspace.getConfiguration();
  const inspected = cfg.inspect<Record<string, unknown>>('switchyard.tasks');
  const inWorkspace = inspected?.workspaceValue !== undefined && (inspected.workspaceValue as Record<string, unknown>)[task] !== undefined;
  const target = inWorkspace ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  const current = JSON.parse(JSON.stringify((inWorkspace ? inspected?.workspaceValue : inspected?.globalValue) ?? {})) as Record<
    string,
    unknown
  >;
  current[task] = candidates.map(toSetting);
  await cfg.update('switchyard.tasks', current, target);
}
