/**
 * `switchyard` on the terminal: the same router as the extension, configured by a JSON file with the same
 * `switchyard.*` keys as settings.json. Exit codes: 0 ok, 2 usage or configuration error, 1 failure.
 * Each command lives in commands/<name>.ts; add it to COMMANDS and to USAGE.
 */
import { isProviderError } from '../core/errors';
import { redact } from '../core/host';
import { TASKS } from '../core/config/config';
import { ConfigError, UsageError, captureConsole, closeAll, printable, stderrLogger, terminalLine, type Command, type Io } from './common';
import { ask } from './commands/ask';
import { commitMessage } from './commands/commitMessage';
import { complete } from './commands/complete';
import { models } from './commands/models';
import { route } from './commands/route';
import { pull } from './commands/pull';
import { rm } from './commands/rm';
import { serve } from './commands/serve';
import { index } from './commands/index';
import { search } from './commands/search';
import { usage } from './commands/usage';

const COMMANDS: Record<string, Command> = {
  models,
  route,
  ask,
  'commit-message': commitMessage,
  complete,
  pull,
  rm,
  serve,
  index,
  search,
  usage,
};

const USAGE = `Usage: switchyard <command> [options]

Commands:
  models [--config FILE] [--json]                 providers, their health and models
  route <task> [--config FILE] [--json]           what the router would use now, and why not the others
  ask [--task T] [--config FILE] [--allow-cloud] ["<prompt>"]
                                                  stream an answer (prompt from stdin when absent)
  commit-message [--repo DIR] [--staged] [--config FILE] [--allow-cloud]
                                                  a commit message for the staged changes (all changes when
                                                  nothing is staged, unless --staged) of DIR (default: the
                                                  current folder), on stdout for terminals and git hooks
  complete --file F --line L --column C [--config FILE] [--allow-cloud] [--json]
                                                  the inline completion the editor would show at that place
                                                  (1-based line and column); route on stderr
  pull <ollama-model | url> [--provider ID] [--sha256 H] [--models-dir DIR] [--config FILE]
                                                  pull into Ollama, or download a GGUF (resumable) for
                                                  kind "embedded"; progress on stderr
  rm <model> [--provider ID] [--models-dir DIR] [--config FILE]
                                                  delete a GGUF file or an Ollama model
  serve [--port N] [--config FILE] [--token T] [--db FILE] [--allow-cloud]
                                                  the OpenAI-compatible gateway on 127.0.0.1; prints its URL
                                                  first (token from --token or SWITCHYARD_GATEWAY_TOKEN, else
                                                  generated and printed); --db keeps usage in SQLite
  index <folder> [--db FILE] [--config FILE]      build or update the folder's index (progress on stderr)
  search <folder> "<query>" [--db FILE] [-k N] [--json]
                                                  hybrid search of the index; --json: [{ path, startLine,
                                                  endLine, symbol, score }], best first
  usage --db FILE [--egress] [--since YYYY-MM-DD] [--until YYYY-MM-DD] [--provider ID] [--json]
                                                  what a usage ledger (serve --db FILE) holds: the request
                                                  summary, or with --egress every request that left the
                                                  machine (host, bytes, redactions, files), newest first

Tasks: ${TASKS.join(', ')} (or switchyard/<alias>).
--config FILE: JSON with the same "switchyard.*" keys as VS Code's settings.json.
API keys come from the environment (OPENAI_API_KEY, … or a provider's "apiKeyEnv").`;

/** Before `--`, does the command line ask for help? (`switchyard ask --help`) */
function wantsHelp(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

export async function run(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  // Library console output (stacks, raw upstream lines) goes through the redacting logger, never raw to the terminal.
  const restoreConsole = captureConsole(stderrLogger(io, rest.includes('--verbose')));
  try {
    if (command === undefined || command === 'help' || command === '--help' || command === '-h' || wantsHelp(rest)) {
      io.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    }
    const handler = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
    if (!handler) throw new UsageError(`unknown command "${printable(command)}"`);
    return await handler(rest, io);
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`switchyard: ${printable((e as Error).message)}\nRun \`switchyard --help\` for the commands and their options.\n`);
      return 2;
    }
    if (e instanceof ConfigError) {
      for (const line of e.message.split('\n')) io.stderr.write(`switchyard: ${printable(redact(line))}\n`);
      return 2;
    }
    if (isProviderError(e) && e.kind === 'config') {
      io.stderr.write(`switchyard: ${terminalLine(e.message)}\n`);
      return 2;
    }
    // One line, whatever the message carried (an upstream's HTML page, raw bytes, a stack).
    io.stderr.write(`switchyard: ${terminalLine(e instanceof Error ? e.message : String(e))}\n`);
    return 1;
  } finally {
    // One-shot commands end what they started (the embedded models' process, ledgers) so the process exits now.
    await closeAll();
    restoreConsole();
  }
}

// Runs when bundled as dist/cli.js; tests call run() directly.
if (require.main === module) {
  run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env }).then((code) => {
    process.exitCode = code;
  });
}
