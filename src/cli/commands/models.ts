/** `switchyard models`: providers, their health and discovered models. */
import { parseArgs } from 'node:util';
import { isProviderError } from '../../core/errors';
import { cloudVerdict, privacyContext } from '../../core/routing/privacy';
import type { ModelCapabilities } from '../../core/providers/types';
import { COMMON_OPTIONS, build, loadConfig, printable, terminalLine, type Io } from '../common';

interface ModelsRow {
  id: string;
  kind: string;
  baseUrl: string;
  local: boolean;
  /** null: not contacted (privacy). */
  healthy: boolean | null;
  latencyMs?: number;
  version?: string;
  error?: string;
  models: { id: string; contextLength?: number; capabilities: ModelCapabilities; remoteHost?: string }[];
}

export async function models(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args, options: { ...COMMON_OPTIONS, json: { type: 'boolean' } }, strict: true });
  const sy = build(loadConfig(values.config, io), io, { allowCloud: values['allow-cloud'] ?? false, verbose: values.verbose ?? false });
  const privacy = privacyContext(sy.config);
  const cloudOk = cloudVerdict(privacy, values['allow-cloud'] ?? false).allowed !== false;
  const rows: ModelsRow[] = await Promise.all(
    sy.registry.list().map(async (p): Promise<ModelsRow> => {
      const base = { id: p.id, kind: p.kind, baseUrl: p.baseUrl, local: p.local };
      if (!p.local && !cloudOk) return { ...base, healthy: null, error: 'not contacted: privacy forbids cloud requests', models: [] };
      const provider = sy.registry.get(p.id)!;
      try {
        const h = await provider.health(AbortSignal.timeout(3000));
        const models = await sy.registry.discover(p.id, AbortSignal.timeout(5000)).catch(() => []);
        return {
          ...base,
          healthy: true,
          latencyMs: Math.round(h.latencyMs),
          version: h.version,
          models: models.map((m) => ({
            id: m.id,
            contextLength: m.contextLength,
            capabilities: m.capabilities,
            ...(m.remoteHost ? { remoteHost: m.remoteHost } : {}),
          })),
        };
      } catch (e) {
        return { ...base, healthy: false, error: isProviderError(e) ? `${e.kind}: ${e.message}` : String(e), models: [] };
      }
    }),
  );
  if (values.json) {
    io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  for (const r of rows) {
    const state =
      r.healthy === true
        ? `up (${r.latencyMs ?? '?'} ms${r.version ? `, ${printable(r.version)}` : ''})`
        : r.healthy === false
          ? `down: ${terminalLine(r.error ?? '')}`
          : r.error;
    io.stdout.write(`${r.id}  ${r.kind}  ${r.baseUrl}  ${r.local ? 'local' : 'cloud'}  ${state}\n`);
    for (const m of r.models) {
      const caps = Object.entries(m.capabilities)
        .filter(([, v]) => v)
        .map(([k]) => k)
        .join(',');
      // An Ollama cloud model: listed by a local daemon, run on another host.
      io.stdout.write(
        `    ${printable(m.id)}${m.contextLength ? `  ctx ${m.contextLength}` : ''}` +
          `${caps ? `  [${caps}]` : ''}${m.remoteHost ? `  cloud (runs on ${printable(m.remoteHost)})` : ''}\n`,
      );
    }
  }
  return 0;
}
