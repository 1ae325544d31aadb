/**
 * The provider layer's entry point: one factory from configuration to a Provider, and the loopback test that
 * decides what "local" means when the user did not say.
 */
import { ProviderError } from '../errors';
import type { ProviderDeps } from './base';
import { EmbeddedProvider } from './embedded/provider';
import { LlamaCppProvider } from './llamacpp';
import { OllamaProvider } from './ollama';
import { OpenAICompatibleProvider } from './openaiCompatible';
import type { OpenAICompatibleOptions } from './openaiCompatible';
import type { Provider, ProviderConfig } from './types';

export type { ProviderDeps, ProviderOptions } from './base';
export {
  BaseProvider,
  DEFAULT_ANSWER_TOKENS,
  DEFAULT_EMBED_BATCH_SIZE,
  DEFAULT_FIRST_TOKEN_TIMEOUT_MS,
  DEFAULT_PROBE_TIMEOUT_MS,
} from './base';
export { estimateMessagesTokens, estimateTokens } from './tokenEstimate';
export { OllamaProvider, NUM_CTX_STEP, sizeNumCtx } from './ollama';
export { OpenAICompatibleProvider } from './openaiCompatible';
export type { OpenAICompatibleOptions } from './openaiCompatible';
export { LlamaCppProvider } from './llamacpp';
export { EmbeddedProvider, listGgufFiles, modelIdOf } from './embedded/provider';
export { EmbeddedRuntime, type EmbeddedRuntimeOptions } from './embedded/runtime';
export { LOCAL_DEFAULTS, PRESETS, configFromPreset, getPreset } from './presets';
export type { ProviderPreset } from './presets';
export type * from './types';

export function createProvider(config: ProviderConfig, deps: ProviderDeps, options: OpenAICompatibleOptions = {}): Provider {
  switch (config.kind) {
    case 'ollama':
      return new OllamaProvider(config, deps, options);
    case 'openai-compatible':
      return new OpenAICompatibleProvider(config, deps, options);
    case 'llamacpp':
      return new LlamaCppProvider(config, deps, options);
    case 'embedded':
      return new EmbeddedProvider(config, deps, options);
    default: {
      const kind: never = config.kind;
      throw new ProviderError('config', `${config.id}: unknown provider kind "${String(kind)}"`, { providerId: config.id });
    }
  }
}

/**
 * True when the URL's host is this machine: localhost, 127.0.0.0/8, ::1, 0.0.0.0 (which
 * connects to this machine) and their IPv4-mapped forms. Anything else, including this machine's LAN address,
 * is not loopback: the user may still mark it local. An unparsable URL is not loopback.
 */
export function isLoopbackHost(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  // Only the name itself: "*.localhost" is loopback by RFC 6761, but resolving it goes through the system resolver,
  // which may ask a DNS server off the machine (and answer with any address). Users may list such names in localHosts.
  if (host === 'localhost') return true;
  if (host === '::1' || host === '0:0:0:0:0:0:0:1' || host === '0.0.0.0' || host === '::') return true;
  const mapped = /^::ffff:(.+)$/.exec(host);
  if (mapped) return isLoopbackIPv4(mapped[1]) || isMappedHexLoopback(mapped[1]);
  return isLoopbackIPv4(host);
}

function isLoopbackIPv4(host: string): boolean {
  const parts = host.split('.');
  return parts.length === 4 && parts[0] === '127' && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

/** WHATWG URL writes ::ffff:127.0.0.1 as ::ffff:7f00:1. */
function isMappedHexLoopback(rest: string): boolean {
  const m = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(rest);
  return m !== null && parseInt(m[1], 16) >> 8 === 127;
}
