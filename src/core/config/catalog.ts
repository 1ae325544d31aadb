/**
 * The model catalog: what Switchyard knows about well-known models without asking a server (context window,
 * list price, capabilities). The data lives in catalog.json so updating a price is a data change, not code.
 * What a server reports about its own models (Ollama's /api/show, llama.cpp's /props) always wins.
 */
import type { ModelCapabilities, ModelInfo } from '../providers/types';
import catalogData from './catalog.json';

export interface ModelPrice {
  /** USD per million input tokens. */
  input: number;
  /** USD per million output tokens. */
  output: number;
}

export interface CatalogEntry {
  id: string;
  /** A preset id (openai, anthropic, …) or "ollama" for models any local runtime may serve under that name. */
  provider: string;
  contextWindow: number;
  price: ModelPrice;
  capabilities: ModelCapabilities;
  /** Vector length, for embedding models. */
  dimensions?: number;
}

/** A discovered model with what the catalog adds. */
export interface CatalogModelInfo extends ModelInfo {
  price?: ModelPrice;
  /** True when the catalog knew this model. */
  inCatalog: boolean;
}

interface CatalogFile {
  asOf: string;
  models: CatalogEntry[];
}

const data = catalogData as CatalogFile;

export const CATALOG: readonly CatalogEntry[] = Object.freeze(data.models.map((m) => Object.freeze({ ...m })));
/** When the prices were last checked. */
export const CATALOG_AS_OF: string = data.asOf;

/** Local runtimes share the "ollama" entries: the same model names (nomic-embed-text, …) are served by all. */
const LOCAL_KINDS: ReadonlySet<string> = new Set(['ollama', 'llamacpp', 'lmstudio', 'vllm']);

/** Suffixes that name a snapshot of a catalog model: dates (-20250929, -2024-08-06, -0709) and -latest. */
const SNAPSHOT_SUFFIX = /^-(\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|latest)$/;

function providerMatches(entry: CatalogEntry, presetOrKind: string | undefined): boolean {
  if (presetOrKind === undefined) return true;
  if (entry.provider === presetOrKind) return true;
  return entry.provider === 'ollama' && LOCAL_KINDS.has(presetOrKind);
}

/**
 * The catalog entry for a model, by preset (or provider kind for local runtimes) and model id. Matches the exact
 * id first, then an Ollama tag's base name ("nomic-embed-text:latest", "qwen2.5-coder:7b"), then a dated
 * snapshot of a catalog id ("claude-sonnet-4-5-20250929"). `presetOrKind` undefined searches every provider.
 */
export function lookupModel(presetOrKind: string | undefined, modelId: string): CatalogEntry | undefined {
  const candidates = CATALOG.filter((e) => providerMatches(e, presetOrKind));
  const exact = candidates.find((e) => e.id === modelId);
  if (exact) return exact;
  const colon = modelId.indexOf(':');
  if (colon > 0) {
    const base = modelId.slice(0, colon);
    const tagged = candidates.find((e) => e.provider === 'ollama' && e.id === base);
    if (tagged) return tagged;
  }
  let best: CatalogEntry | undefined;
  for (const e of candidates) {
    if (modelId.startsWith(e.id) && SNAPSHOT_SUFFIX.test(modelId.slice(e.id.length))) {
      if (!best || e.id.length > best.id.length) best = e;
    }
  }
  return best;
}

/**
 * Discovered models with the catalog's knowledge filled in. The server's word wins: a context length or a
 * capability it reported is kept; the catalog only fills what it left out, and adds the price.
 */
export function mergeWithDiscovered(models: readonly ModelInfo[], presetOrKind?: string): CatalogModelInfo[] {
  return models.map((m) => {
    const entry = lookupModel(presetOrKind, m.id);
    if (!entry) return { ...m, capabilities: { ...m.capabilities }, inCatalog: false };
    const capabilities: ModelCapabilities = { ...entry.capabilities };
    for (const [key, value] of Object.entries(m.capabilities) as [keyof ModelCapabilities, boolean | undefined][]) {
      if (value !== undefined) capabilities[key] = value;
    }
    return {
      ...m,
      contextLength: m.contextLength ?? entry.contextWindow,
      capabilities,
      price: entry.price,
      inCatalog: true,
    };
  });
}

/** Estimated cost in USD of a request, or undefined when the price is unknown. */
export function estimateCost(price: ModelPrice | undefined, inputTokens = 0, outputTokens = 0): number | undefined {
  if (!price) return undefined;
  return (inputTokens * price.input + outputTokens * price.output) / 1_000_000;
}
