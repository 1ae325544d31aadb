/**
 * `switchyard rm <model>`: deletes a GGUF file from the models folder (an embedded provider's, or the CLI's), or a
 * model from Ollama. Without --provider a GGUF of that name wins, then the first Ollama provider.
 */
import { parseArgs } from 'node:util';
import { deleteLocalModel, listLocalModels } from '../../core/models/modelsFolder';
import { deleteOllamaModel } from '../../core/models/ollama';
import { modelIdOf } from '../../core/providers/embedded/provider';
import { UsageError, build, loadConfig, type Io } from '../common';
import { MODEL_OPTIONS, ggufDir, ollamaProvider, reportModelError } from './pull';

export async function rm(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: MODEL_OPTIONS, allowPositionals: true, strict: true });
  if (positionals.length !== 1)
    throw new UsageError('rm takes one model name, e.g. `switchyard rm qwen2.5-coder:1.5b` or `switchyard rm my-model` (a GGUF file)');
  const name = positionals[0]!;
  const sy = build(loadConfig(values.config, io), io, { allowCloud: false, verbose: values.verbose ?? false });
  try {
    const chosen = values.provider ? sy.registry.list().find((p) => p.id === values.provider) : undefined;
    if (values.provider && !chosen) throw new UsageError(`no provider "${values.provider}" in switchyard.providers`);
    const gguf =
      chosen?.kind === 'embedded' ||
      (!chosen && listLocalModels(ggufDir(sy, undefined, io.env, values['models-dir'])).some((m) => m.id === modelIdOf(name)));
    if (gguf) {
      const path = await deleteLocalModel(ggufDir(sy, chosen?.id, io.env, values['models-dir']), name);
      io.stderr.write(`deleted ${path}\n`);
      return 0;
    }
    const provider = ollamaProvider(sy, values.provider);
    const gate = await sy.router.mayContact(provider.id, 'rm');
    if (!gate.ok) {
      io.stderr.write(`switchyard: ${gate.reason}\n`);
      return 1;
    }
    await deleteOllamaModel({ baseUrl: provider.baseUrl }, name);
    sy.registry.forget(provider.id);
    io.stderr.write(`deleted ${name} from ${provider.id}\n`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    return reportModelError(e, io);
  }
}
