/**
 * `switchyard serve`: the gateway headless (the same code as in VS Code). The first stdout line is the URL it
 * listens on; logs (each substitution, never prompts or keys) go to stderr. The --config file is watched, so an
 * edited alias or task applies to the next request without a restart. Ctrl+C (or SIGTERM) stops it.
 */
import { randomBytes } from 'node:crypto';
import { watch } from 'node:fs';
import { Gateway } from '../../core/gateway/server';
import { redact, type Logger } from '../../core/host';
import { Switchyard } from '../../core/switchyard';
import { privacyContext } from '../../core/routing/privacy';
import { priceOf } from '../../core/usage/pricing';
import { SqliteLedger } from '../../core/usage/sqliteLedger';
import { commandArgs, UsageError, cliSecretValues, closeWithCommand, envSecrets, loadConfig, requireNativeNode, type Io } from '../common';

/** Resolves on Ctrl+C or SIGTERM (its listeners then removed). */
function stopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** An edited --config applies to the next request (aliases, tasks, privacy), as settings do in VS Code. Returns the stop. */
function watchConfig(file: string, io: Io, logger: Logger, sy: Switchyard, usage: SqliteLedger | undefined): () => void {
  let reload: ReturnType<typeof setTimeout> | undefined;
  const watcher = watch(file, () => {
    clearTimeout(reload);
    reload = setTimeout(() => {
      try {
        const next = loadConfig(file, io).config;
        sy.setConfig(next);
        usage?.setRetention(next.usage.retentionDays);
        logger.info(`settings re-read from ${file}`);
      } catch (e) {
        logger.warn(`kept the previous settings: ${e instanceof Error ? e.message : String(e)}`);
      }
    }, 100);
  });
  return () => {
    watcher.close();
    clearTimeout(reload);
  };
}

export async function serve(args: string[], io: Io): Promise<number> {
  const { values, positionals } = commandArgs(args, { port: { type: 'string' }, token: { type: 'string' }, db: { type: 'string' } });
  if (positionals.length > 0) throw new UsageError(`serve takes no arguments (got "${positionals[0]}")`);
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new UsageError(`--port must be 0..65535 (0 picks a free port), got "${values.port}"`);
  }
  const given = values.token ?? (io.env.SWITCHYARD_GATEWAY_TOKEN || undefined);
  if (given !== undefined && given.length < 8) throw new UsageError('the gateway token must have at least 8 characters');
  const token = given ?? `sy-${randomBytes(24).toString('base64url')}`;

  if (values.db) requireNativeNode('serve --db'); // the ledger is better-sqlite3
  const parsed = loadConfig(values.config, io);
  const secretsSeen: string[] = [token];
  const clean = (m: string) => redact(m, secretsSeen);
  const line = (level: string) => (m: string) => io.stderr.write(`[${level}] ${clean(m)}\n`);
  const logger: Logger = {
    trace: () => {},
    debug: values.verbose ? line('debug') : () => {},
    info: line('info'),
    warn: line('warn'),
    error: line('error'),
  };
  const usage = values.db ? new SqliteLedger({ path: values.db, logger, retentionDays: parsed.config.usage.retentionDays }) : undefined;
  const sy = new Switchyard({
    config: parsed.config,
    secrets: envSecrets(io.env),
    logger,
    privacy: (c) => privacyContext(c),
    askCloud: values['allow-cloud'] ? async () => true : undefined,
    usage,
    price: priceOf,
    secretValues: cliSecretValues(),
  });
  closeWithCommand(() => sy.dispose());
  const gateway = new Gateway({ source: sy, token, port: port ?? parsed.config.gateway.port, logger });
  try {
    await gateway.start();
  } catch (e) {
    usage?.close();
    throw e;
  }
  // Ctrl+C or SIGTERM from the moment the URL is printed: close the gateway (which aborts streams in flight), then
  // run() ends the embedded models' process, so the process exits at once.
  const stopped = stopSignal();
  const unwatch = values.config ? watchConfig(values.config, io, logger, sy, usage) : () => {};

  // The URL line says it is ready: serving, and watching --config.
  io.stdout.write(`${gateway.url}\n`);
  if (given === undefined) io.stdout.write(`token: ${token}\n`);

  await stopped;
  unwatch();
  await gateway.stop();
  usage?.close();
  return 0;
}
