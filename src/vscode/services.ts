import type * as vscode from 'vscode';
import type { Logger } from '../core/host';
import type { Switchyard } from '../core/switchyard';
import type { MemoryLedger } from '../core/usage/ledger';
import type { Secrets } from './secrets';
import type { Retriever } from '../core/index/types';
import type { SqliteLedger } from '../core/usage/sqliteLedger';

/** What activation builds once and every feature module receives (and what the extension exports to tests). */
export interface Services {
  readonly context: vscode.ExtensionContext;
  readonly switchyard: Switchyard;
  readonly usage: MemoryLedger;
  readonly secrets: Secrets;
  readonly log: Logger;
  readonly channel: vscode.LogOutputChannel;
  /** Re-plans the status bar route (after settings, keys or health change). */
  refreshRoutes(): void;
  /**
   * The workspace index, once its feature has set it up (absent when disabled or untrusted); `changed` fires when its
   * status may have changed (opened, closed, indexing, embeddings paused or resumed), for the chat's composer note.
   */
  workspaceIndex: { current?: Retriever; readonly changed: vscode.EventEmitter<void> };
  /** The persistent usage ledger, once the usage feature has set it up. */
  usageLedger: { current?: SqliteLedger };
}
