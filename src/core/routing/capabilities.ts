/**
 * What a candidate can serve beyond text: tool calling, image input, fill-in-the-middle. Each answer comes from the
 * task setting first, then what discovery reported of the model, then (for cloud models) the catalog; unknown is
 * tried (the server says so when asked).
 */
import type { ErrorKind } from '../errors';
import { lookupModel } from '../config/catalog';
import type { TaskName } from '../config/config';
import { NOT_USABLE, fimChoiceForModel, type FimChoice } from '../complete/templates';
import type { ModelInfo, ProviderConfig } from '../providers/types';
import type { Candidate, RequestNeeds, RoutingContext } from './types';
import { sameModel } from './window';

/** The configuration of a provider the router may use, by id. */
export function providerConfig(ctx: RoutingContext, providerId: string): ProviderConfig | undefined {
  return ctx.deps.providers.list().find((p) => p.id === providerId);
}

/** What discovery knows of a candidate's model (cached, no request), with its provider's configuration. */
export function modelInfo(
  ctx: RoutingContext,
  c: Pick<Candidate, 'providerId' | 'model'>,
): { provider?: ProviderConfig; info?: ModelInfo } {
  const provider = providerConfig(ctx, c.providerId);
  const info = provider && ctx.deps.providers.cachedModels(c.providerId)?.find((m) => sameModel(provider, m.id, c.model));
  return { provider, info };
}

/** Why a candidate cannot serve what the request needs, or undefined (also when nobody knows: unknown is tried). */
export function capabilityGap(
  ctx: RoutingContext,
  c: Candidate,
  needs: RequestNeeds | undefined,
): { reason: string; missing: 'tools' | 'images' } | undefined {
  const images = needs?.images ? visionGap(ctx, c) : undefined;
  if (images) return { reason: images, missing: 'images' };
  const tools = toolsGap(ctx, c, needs);
  return tools ? { reason: tools, missing: 'tools' } : undefined;
}

/** Why a candidate takes no images, or undefined (unknown is tried). */
function visionGap(ctx: RoutingContext, c: Candidate): string | undefined {
  const v = visionOf(ctx, c);
  if (v?.takes !== false) return undefined;
  if (v.source === 'setting') return 'no image input ("vision": false in switchyard.tasks)';
  if (v.source === 'server') return `no image input (${c.providerId} reports that ${c.model} takes no images)`;
  return `no image input (the model catalog lists ${c.model} without vision)`;
}

/**
 * Whether a candidate takes images and who says so: the task setting's `"vision"`, then discovery (Ollama /api/show,
 * llama.cpp /props `modalities`), then the catalog.
 */
export function visionOf(ctx: RoutingContext, c: Candidate): { takes: boolean; source: 'setting' | 'server' | 'catalog' } | undefined {
  if (c.vision !== undefined) return { takes: c.vision, source: 'setting' };
  const { provider, info } = modelInfo(ctx, c);
  if (!provider) return undefined;
  const known = info?.capabilities.vision;
  if (known !== undefined) return { takes: known, source: 'server' };
  // The catalog marks the models that take images (`vision: true`); an entry without it takes none.
  const listed = lookupModel(provider.preset ?? provider.kind, c.model);
  return listed === undefined ? undefined : { takes: listed.capabilities.vision === true, source: 'catalog' };
}

/** Why a candidate cannot call the request's tools (the task setting's `"tools": false`, discovery, the catalog). */
export function toolsGap(ctx: RoutingContext, c: Candidate, needs: RequestNeeds | undefined): string | undefined {
  if (!needs?.tools) return undefined;
  if (c.tools === false) return 'no tool calling ("tools": false in switchyard.tasks)';
  const { provider, info } = modelInfo(ctx, c);
  if (!provider) return undefined;
  const discovered = info?.capabilities.tools;
  if (discovered === false) return `no tool calling (${c.providerId} reports that ${c.model} cannot call tools)`;
  if (discovered === undefined && !c.local && lookupModel(provider.preset ?? provider.kind, c.model)?.capabilities.tools === false) {
    return `no tool calling (the model catalog lists ${c.model} without tool support)`;
  }
  return undefined;
}

/**
 * How a candidate's model fills in the middle (templates.ts, from what discovery knows of it), or why it cannot:
 * an instruct-only model, or one whose server refused fill-in-the-middle (`unsupported`) for this router's life.
 */
export function fimChoice(ctx: RoutingContext, c: Pick<Candidate, 'providerId' | 'model'>): FimChoice {
  const refused = ctx.noFim.get(`${c.providerId}/${c.model}`);
  if (refused) return { usable: false, reason: `${NOT_USABLE}: ${refused}` };
  const { provider, info } = modelInfo(ctx, c);
  return fimChoiceForModel(provider?.kind ?? '', c.model, info);
}

/** For the `complete` task: why the candidate cannot fill in the middle ("no fill-in-the-middle: …"), or undefined. */
export function fimGap(ctx: RoutingContext, task: TaskName, c: Candidate): { reason: string; kind: ErrorKind } | undefined {
  if (task !== 'complete') return undefined;
  const choice = fimChoice(ctx, c);
  if (choice.usable) return undefined;
  return { reason: `no fill-in-the-middle: ${choice.reason.replace(`${NOT_USABLE}: `, '')}`, kind: 'unsupported' };
}
