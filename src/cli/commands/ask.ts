/**
 * `switchyard ask`: streams an answer to stdout; the route, a thinking model's reasoning, notices and the usage go to
 * stderr (so a script that reads stdout gets the answer alone). The chat view's turn (core/chat/turn.ts): the prompt
 * fitted to the window of the model that answers, `<think>` text as reasoning.
 */
import { runTurn } from '../../core/chat/turn';
import { RouteError } from '../../core/routing/router';
import { describeCandidate } from '../../core/describe';
import { formatUsage } from '../../core/usage/ledger';
import { commandArgs, UsageError, attemptLines, build, loadConfig, readStdin, type Io } from '../common';

export async function ask(args: string[], io: Io): Promise<number> {
  const { values, positionals } = commandArgs(args, { task: { type: 'string', default: 'chat' } });
  if (positionals.length > 1) throw new UsageError('ask takes one prompt argument; quote it, or pipe it on stdin');
  const prompt = positionals[0] ?? (await readStdin(io.stdin));
  if (!prompt.trim()) throw new UsageError('ask needs a prompt: `switchyard ask "…"` or on stdin');
  const sy = build(loadConfig(values.config, io), io, { allowCloud: values['allow-cloud'] ?? false, verbose: values.verbose ?? false });
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  let thinking = false;
  /** Ends the reasoning on stderr with a newline before anything else is written. */
  const endThinking = () => {
    if (thinking) io.stderr.write('\n');
    thinking = false;
  };
  try {
    for await (const ev of runTurn(
      { router: sy.router, providers: sy.registry },
      { task: values.task!, question: prompt, signal: controller.signal },
    )) {
      if (ev.type === 'notice') {
        endThinking();
        io.stderr.write(`note: ${ev.text}\n`);
      } else if (ev.type === 'reasoning') {
        if (!thinking) io.stderr.write('thinking: ');
        thinking = true;
        io.stderr.write(ev.text);
      } else if (ev.type === 'text') {
        endThinking();
        io.stdout.write(ev.text);
      } else if (ev.type === 'route') {
        const r = ev.route;
        io.stderr.write(
          `route: ${r.requested} answered by ${describeCandidate(r)}${r.fallback ? ' after fallback' : ''}\n${attemptLines(r.attempts)}`,
        );
      } else if (ev.type === 'done') {
        endThinking();
        io.stdout.write('\n');
        io.stderr.write(`${formatUsage(ev.usage)}\n`);
      }
    }
    return 0;
  } catch (e) {
    endThinking();
    if (e instanceof RouteError) {
      io.stdout.write('\n');
      io.stderr.write(`route: ${values.task} failed\n${attemptLines(e.attempts)}`);
      throw new Error(e.kind === 'canceled' ? 'canceled' : `${e.kind}: ${e.message}`);
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
