/**
 * The settings panel's Models section, host side: what each local Ollama provider has installed and the GGUF files
 * embedded providers serve. Pull, delete and download run the model manager's commands (src/vscode/models), so the
 * panel gets the same `window.withProgress` notifications with cancel and the same host-side delete confirmation.
 */
import * as vscode from 'vscode';
import { formatBytes, listLocalModels } from '../../core/models/modelsFolder';
import { listOllamaModels } from '../../core/models/ollama';
import type { InstalledModels, ModelTarget } from '../../protocol/settings';
import { ggufDirs, type DeleteModelArgs } from '../models';
import type { Services } from '../services';

export async function installedModels(services: Services): Promise<InstalledModels> {
  const ollama = await Promise.all(
    services.switchyard.registry
      .list()
      .filter((p) => p.kind === 'ollama' && p.local)
      .map(async (p): Promise<InstalledModels['ollama'][number]> => {
        try {
          const models = await listOllamaModels({ baseUrl: p.baseUrl, signal: AbortSignal.timeout(4000) });
          return {
            providerId: p.id,
            baseUrl: p.baseUrl,
            models: models
              .map((m) => ({
                name: m.name,
                sizeBytes: m.sizeBytes,
                size: formatBytes(m.sizeBytes),
                family: m.family,
                parameterSize: m.parameterSize,
                quantization: m.quantization,
              }))
              .sort((a, b) => a.name.localeCompare(b.name)),
          };
        } catch (e) {
          return { providerId: p.id, baseUrl: p.baseUrl, error: e instanceof Error ? e.message : String(e), models: [] };
        }
      }),
  );
  const gguf = ggufDirs(services).map(({ dir, providerIds }) => ({
    dir,
    providerIds,
    files: listLocalModels(dir).map((m) => ({ id: m.id, sizeBytes: m.sizeBytes, size: formatBytes(m.sizeBytes) })),
  }));
  return { ollama, gguf };
}

export async function pullModel(services: Services, providerId: string, model: string): Promise<{ done: boolean }> {
  const p = services.switchyard.registry.list().find((c) => c.id === providerId);
  if (!p || p.kind !== 'ollama') throw new Error(`"${providerId}" is not an Ollama provider.`);
  const done = await vscode.commands.executeCommand<boolean>('switchyard.pullModel', { providerId, model });
  // The pulled model shows in the open panel at once, not when the discovery cache expires.
  services.switchyard.registry.forget(providerId);
  return { done: done === true };
}

export async function deleteModel(services: Services, target: ModelTarget): Promise<{ deleted: boolean }> {
  const args: DeleteModelArgs =
    target.kind === 'ollama' ? { providerId: target.providerId, model: target.model } : { dir: target.dir, id: target.id };
  const deleted = await vscode.commands.executeCommand<boolean>('switchyard.deleteModel', args);
  if (target.kind === 'ollama') services.switchyard.registry.forget(target.providerId);
  else for (const id of ggufDirs(services).find((d) => d.dir === target.dir)?.providerIds ?? []) services.switchyard.registry.forget(id);
  return { deleted: deleted === true };
}

export async function downloadGguf(
  services: Services,
  url: string,
  sha256: string | undefined,
  providerId?: string,
): Promise<{ done: boolean }> {
  if (providerId && !services.switchyard.registry.list().some((c) => c.id === providerId && c.kind === 'embedded'))
    throw new Error(`"${providerId}" is not an embedded provider.`);
  const done = await vscode.commands.executeCommand<boolean>('switchyard.downloadGgufModel', { providerId, url, sha256: sha256 ?? '' });
  return { done: done === true };
}
