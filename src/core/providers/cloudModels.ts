/**
 * Ollama cloud models: the local daemon lists them and answers for them, but the prompt is processed on Ollama's
 * servers. Their names say so by convention (`gpt-oss:120b-cloud`, `qwen3-coder:480b-cloud`, `glm-4.6:cloud`), and
 * discovery says so for any name (`remote_host` in /api/tags and /api/show, see ollama.ts). The name rule decides
 * before discovery has answered, so a cloud model is never treated as local for want of a lookup.
 */
import type { ModelInfo, ProviderConfig } from './types';

export const OLLAMA_CLOUD_HOST = 'ollama.com';

/** `ollama.com` when an Ollama model's tag marks it as a cloud model, else undefined. */
export function ollamaCloudHost(model: string): string | undefined {
  const colon = model.lastIndexOf(':');
  const tag = (colon >= 0 ? model.slice(colon + 1) : '').toLowerCase();
  return tag === 'cloud' || tag.endsWith('-cloud') ? OLLAMA_CLOUD_HOST : undefined;
}

/**
 * Where a model of a provider runs when that is not the provider's own machine (its discovery entry says so, or an
 * Ollama model's tag does), else undefined. The one rule for "is this model cloud" that the router, the settings panel
 * and the CLI share.
 */
export function modelRemoteHost(
  provider: Pick<ProviderConfig, 'kind'>,
  model: string,
  info?: Pick<ModelInfo, 'remoteHost'>,
): string | undefined {
  if (info?.remoteHost) return info.remoteHost;
  return provider.kind === 'ollama' ? ollamaCloudHost(model) : undefined;
}

/** The prompt stays on this machine (or a host the user marked local): a local provider and not a cloud model. */
export function runsLocally(
  provider: Pick<ProviderConfig, 'kind' | 'local'>,
  model: string,
  info?: Pick<ModelInfo, 'remoteHost'>,
): boolean {
  return provider.local && modelRemoteHost(provider, model, info) === undefined;
}
