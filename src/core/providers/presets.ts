/**
 * Named endpoints as data. A preset is configuration of an existing provider class, never a new class: adding
 * an OpenAI-compatible service is one entry here (and its models in config/catalog.json).
 */
import { PRESET_IDS, isOneOf, type PresetId } from '../../protocol/vocabulary';
import type { ProviderConfig, ProviderKind } from './types';

export interface ProviderPreset {
  id: PresetId;
  label: string;
  kind: ProviderKind;
  baseUrl: string;
  /** Whether requests stay on this machine. */
  local: boolean;
  /** The environment variable conventionally holding its key (the fallback when SecretStorage has none). */
  apiKeyEnv?: string;
  /** Cloud services refuse requests without a key; we fail early with `auth` instead of sending one. */
  requiresApiKey: boolean;
  /**
   * How the answer budget is named on the wire. OpenAI's reasoning models reject `max_tokens`; most other
   * compatible servers only know `max_tokens`.
   */
  maxTokensParam: 'max_tokens' | 'max_completion_tokens';
  /** Where its OpenAI compatibility is documented. */
  docs?: string;
}

function cloud(
  id: PresetId,
  label: string,
  baseUrl: string,
  apiKeyEnv: string,
  docs: string,
  maxTokensParam: ProviderPreset['maxTokensParam'] = 'max_tokens',
): ProviderPreset {
  return { id, label, kind: 'openai-compatible', baseUrl, local: false, apiKeyEnv, requiresApiKey: true, maxTokensParam, docs };
}

function localOpenAI(id: PresetId, label: string, baseUrl: string, docs: string): ProviderPreset {
  return { id, label, kind: 'openai-compatible', baseUrl, local: true, requiresApiKey: false, maxTokensParam: 'max_tokens', docs };
}

export const PRESETS: Readonly<Record<PresetId, ProviderPreset>> = Object.freeze({
  openai: cloud(
    'openai',
    'OpenAI',
    'https://api.openai.com/v1',
    'OPENAI_API_KEY',
    'https://platform.openai.com/docs/api-reference',
    'max_completion_tokens',
  ),
  anthropic: cloud(
    'anthropic',
    'Anthropic',
    'https://api.anthropic.com/v1/',
    'ANTHROPIC_API_KEY',
    'https://docs.claude.com/en/api/openai-sdk',
  ),
  gemini: cloud(
    'gemini',
    'Google Gemini',
    'https://generativelanguage.googleapis.com/v1beta/openai/',
    'GEMINI_API_KEY',
    'https://ai.google.dev/gemini-api/docs/openai',
  ),
  xai: cloud('xai', 'xAI', 'https://api.x.ai/v1', 'XAI_API_KEY', 'https://docs.x.ai/docs/api-reference'),
  openrouter: cloud(
    'openrouter',
    'OpenRouter',
    'https://openrouter.ai/api/v1',
    'OPENROUTER_API_KEY',
    'https://openrouter.ai/docs/quickstart',
  ),
  // Together's docs now name api.together.ai; the older api.together.xyz host still answers.
  together: cloud(
    'together',
    'Together AI',
    'https://api.together.ai/v1',
    'TOGETHER_API_KEY',
    'https://docs.together.ai/docs/openai-api-compatibility',
  ),
  // 127.0.0.1 rather than localhost, so a resolver that prefers ::1 does not turn a running IPv4-only server into "refused".
  lmstudio: localOpenAI('lmstudio', 'LM Studio', 'http://127.0.0.1:1234/v1', 'https://lmstudio.ai/docs/app/api/endpoints/openai'),
  vllm: localOpenAI('vllm', 'vLLM', 'http://127.0.0.1:8000/v1', 'https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html'),
} satisfies Record<PresetId, ProviderPreset>);

export function getPreset(id: string | undefined): ProviderPreset | undefined {
  return isOneOf(PRESET_IDS, id) ? PRESETS[id] : undefined;
}

/** A provider configuration from a preset, with the user's overrides (another base URL, another key variable). */
export function configFromPreset(presetId: string, overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  const preset = getPreset(presetId);
  if (!preset) throw new Error(`Unknown provider preset "${presetId}"`);
  return {
    id: overrides.id ?? preset.id,
    kind: preset.kind,
    baseUrl: overrides.baseUrl ?? preset.baseUrl,
    local: overrides.local ?? preset.local,
    preset: preset.id,
    apiKeyEnv: overrides.apiKeyEnv ?? preset.apiKeyEnv,
  };
}

/**
 * What Switchyard probes with nothing configured: local runtimes on their standard ports. Ollama and the llama.cpp
 * server have classes of their own; the others are the local presets, as a provider named by the preset gets them.
 * 127.0.0.1 rather than localhost, so a resolver that prefers ::1 does not turn a running IPv4-only server into "refused".
 */
export const LOCAL_DEFAULTS: readonly ProviderConfig[] = Object.freeze([
  { id: 'ollama', kind: 'ollama', baseUrl: 'http://127.0.0.1:11434', local: true },
  { id: 'llamacpp', kind: 'llamacpp', baseUrl: 'http://127.0.0.1:8080', local: true },
  ...PRESET_IDS.filter((id) => PRESETS[id].local).map((id) => localDefault(id)),
] satisfies ProviderConfig[]);

function localDefault(id: PresetId): ProviderConfig {
  const { kind, baseUrl, local } = PRESETS[id];
  return { id, kind, baseUrl, local, preset: id };
}
