/**
 * Ollama cloud models: the local daemon lists them and answers for them, but the prompt is processed on Ollama's
 * servers. Their names say so by convention (`gpt-oss:120b-cloud`, `qwen3-coder:480b-cloud`, `glm-4.6:cloud`), and
 * discovery says so for any name (`remote_host` in /api/tags and /api/show, see ollama.ts). The name rule decides
 * before discovery has answered, so a cloud model is never treated as local for want of a lookup.
 */
export const OLLAMA_CLOUD_HOST = 'ollama.com';

/** `ollama.com` when an Ollama model's tag marks it as a cloud model, else undefined. */
export function ollamaCloudHost(model: string): string | undefined {
  const colon = model.lastIndexOf(':');
  const tag = (colon >= 0 ? model.slice(colon + 1) : '').toLowerCase();
  return tag === 'cloud' || tag.endsWith('-cloud') ? OLLAMA_CLOUD_HOST : undefined;
}
