/** `switchyard route <task>`: what the router would use now, and why the other candidates are skipped. */
import { describeCandidate, describeSkip } from '../../core/describe';
import { commandArgs, UsageError, build, loadConfig, printable, terminalLine, type Io } from '../common';

export async function route(args: string[], io: Io): Promise<number> {
  const { values, positionals } = commandArgs(args, { json: { type: 'boolean' } });
  if (positionals.length !== 1) throw new UsageError('route needs exactly one task, e.g. `switchyard route chat`');
  const sy = build(loadConfig(values.config, io), io, { allowCloud: values['allow-cloud'] ?? false, verbose: values.verbose ?? false });
  const plan = await sy.router.plan(positionals[0], { probe: true });
  const out = {
    task: plan.task,
    candidate: plan.candidate ? { provider: plan.candidate.providerId, model: plan.candidate.model, local: plan.candidate.local } : null,
    skipped: plan.skipped.map((s) => ({ provider: s.providerId, model: s.model, reason: s.reason })),
  };
  if (values.json) io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  else {
    io.stdout.write(plan.candidate ? `${plan.task}: ${describeCandidate(plan.candidate)}\n` : `${plan.task}: no model can answer now\n`);
    for (const s of plan.skipped)
      io.stdout.write(
        `  skipped ${describeSkip({ providerId: s.providerId, model: printable(s.model), reason: terminalLine(s.reason) })}\n`,
      );
  }
  if (!plan.candidate) {
    io.stderr.write(`switchyard: no model can serve ${plan.task} now: start a local server or fix switchyard.tasks.${plan.task}\n`);
    return 1;
  }
  return 0;
}
