/** The core's Logger on a LogOutputChannel, with every known key scrubbed. */
import type * as vscode from 'vscode';
import { redact, type Logger } from '../core/host';

export function channelLogger(channel: vscode.LogOutputChannel, secrets: () => string[]): Logger {
  const clean = (m: string) => redact(m, secrets());
  return {
    trace: (m) => channel.trace(clean(m)),
    debug: (m) => channel.debug(clean(m)),
    info: (m) => channel.info(clean(m)),
    warn: (m) => channel.warn(clean(m)),
    error: (m) => channel.error(clean(m)),
  };
}
