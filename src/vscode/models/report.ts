/**
 * The model manager's decisions that need no editor (src/vscode/models/manager.ts shows them): which folder a GGUF
 * file goes to, and how a pull's or a download's progress becomes a notification's message and increment. No
 * `vscode` here, so unit tests reach it.
 */
import type { DownloadProgress } from '../../core/models/gguf';
import { formatBytes } from '../../core/models/modelsFolder';
import type { PullProgress } from '../../core/models/ollama';
import type { ProviderConfig } from '../../core/providers/types';

/** What a progress notification is told: a message, and how many percent more are done. */
export interface ProgressStep {
  message: string;
  increment?: number;
}

type Provider = Pick<ProviderConfig, 'id' | 'kind' | 'modelPath'>;

/** An embedded provider's folder: its modelPath when that names a folder (not a .gguf file), else global storage. */
function folderOf(p: Provider, modelsDir: string): string {
  return p.modelPath && !p.modelPath.toLowerCase().endsWith('.gguf') ? p.modelPath : modelsDir;
}

/** Where Download GGUF Model saves for a provider: an embedded provider's folder, else global storage. */
export function ggufDirFor(providers: readonly Provider[], modelsDir: string, providerId?: string): string {
  const p = providerId ? providers.find((c) => c.id === providerId) : undefined;
  return p?.kind === 'embedded' ? folderOf(p, modelsDir) : modelsDir;
}

/** Every folder with GGUF models: global storage first, then embedded providers' folders, with who serves each. */
export function ggufFolders(providers: readonly Provider[], modelsDir: string): { dir: string; providerIds: string[] }[] {
  const out = new Map<string, string[]>([[modelsDir, []]]);
  for (const p of providers) {
    if (p.kind !== 'embedded') continue;
    const dir = folderOf(p, modelsDir);
    out.set(dir, [...(out.get(dir) ?? []), p.id]);
  }
  return [...out].map(([dir, providerIds]) => ({ dir, providerIds }));
}

/**
 * An Ollama pull's status lines as progress steps. Ollama pulls layer by layer (one digest each), each counting its
 * own bytes: the bar follows the current layer, starting again at 0 when the next one begins.
 */
export function pullSteps(): (p: PullProgress) => ProgressStep {
  let reported = 0;
  let digest: string | undefined;
  return (p) => {
    if (p.digest !== digest) {
      digest = p.digest;
      reported = 0;
    }
    const pct = p.totalBytes ? Math.floor(((p.completedBytes ?? 0) / p.totalBytes) * 100) : undefined;
    const increment = pct !== undefined ? Math.max(0, pct - reported) : undefined;
    if (pct !== undefined) reported = pct;
    const bytes = p.totalBytes ? ` ${formatBytes(p.completedBytes ?? 0)} / ${formatBytes(p.totalBytes)}` : '';
    return { message: `${p.status}${bytes}`, increment };
  };
}

/** A GGUF download's progress as steps: one per whole percent (and the last chunk), undefined in between. */
export function downloadSteps(): (p: DownloadProgress) => ProgressStep | undefined {
  let reported = 0;
  return (p) => {
    const pct = p.totalBytes ? Math.floor((p.receivedBytes / p.totalBytes) * 100) : undefined;
    if (pct !== undefined && pct === reported && p.receivedBytes !== p.totalBytes) return undefined;
    const total = p.totalBytes ? ` / ${formatBytes(p.totalBytes)}` : '';
    const message = `${formatBytes(p.receivedBytes)}${total}${p.resumedFrom ? ' (resumed)' : ''}`;
    const step = { message, increment: pct !== undefined ? pct - reported : undefined };
    if (pct !== undefined) reported = pct;
    return step;
  };
}
