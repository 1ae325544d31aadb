/**
 * The usage ledger's database: opening the file (WAL, the connection's settings) and its schema, migrated on open.
 * Tables are only ever added, so creating what is missing is the whole migration from an older schema.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Database as SqliteDatabase } from 'better-sqlite3';
import type { Logger } from '../host';

/**
 * 1: usage + audit. 2: adds the egress table. 3: adds the suggestions table. A ledger of an older schema is migrated
 * on open (tables are only ever added); one of a newer schema is refused rather than written in a shape its writer
 * does not expect.
 */
const SCHEMA_VERSION = '3';
const OLDER_SCHEMAS = new Set(['1', '2']);

/** The ledger connection's SQLite page cache, in KiB. */
export const LEDGER_CACHE_KIB = 2048;

const TABLES = `
        CREATE TABLE IF NOT EXISTS usage (
          id INTEGER PRIMARY KEY,
          at TEXT NOT NULL,
          day TEXT NOT NULL,
          task TEXT NOT NULL,
          requested TEXT NOT NULL,
          provider TEXT NOT NULL,
          model TEXT NOT NULL,
          local INTEGER NOT NULL,
          outcome TEXT NOT NULL,
          attempts INTEGER NOT NULL,
          ttft_ms REAL,
          duration_ms REAL NOT NULL,
          input_tokens INTEGER,
          output_tokens INTEGER,
          tokens_estimated INTEGER NOT NULL DEFAULT 0,
          cost_usd REAL
        );
        CREATE INDEX IF NOT EXISTS usage_at ON usage(at);
        CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY, at TEXT NOT NULL, key TEXT NOT NULL, change TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS egress (
          id INTEGER PRIMARY KEY,
          at TEXT NOT NULL,
          day TEXT NOT NULL,
          task TEXT NOT NULL,
          provider TEXT NOT NULL,
          model TEXT NOT NULL,
          host TEXT NOT NULL,
          bytes_sent INTEGER NOT NULL,
          redactions TEXT NOT NULL,
          sources TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS egress_at ON egress(at);
        CREATE TABLE IF NOT EXISTS suggestions (
          id INTEGER PRIMARY KEY,
          at TEXT NOT NULL,
          event TEXT NOT NULL,
          provider TEXT NOT NULL,
          model TEXT NOT NULL,
          local INTEGER NOT NULL,
          source TEXT NOT NULL,
          latency_ms REAL NOT NULL,
          chars INTEGER NOT NULL,
          lines INTEGER NOT NULL,
          partial INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX IF NOT EXISTS suggestions_at ON suggestions(at);
      `;

/** Opens (creating its folder) and migrates the ledger at `path` with the given better-sqlite3 constructor. */
export function openLedgerDatabase(Database: new (path: string) => SqliteDatabase, path: string, logger: Logger): SqliteDatabase {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 2000');
  // better-sqlite3 builds SQLite with a 16 MB page cache per connection; a ledger that is mostly appended to and
  // read for one summary at a time does not need it, and it sat in the serving process as memory that grew with
  // every record written (bench soak: +20 MB RSS in 110 s) until the cache was full.
  db.pragma(`cache_size = -${LEDGER_CACHE_KIB}`);
  migrate(db, path, logger);
  return db;
}

function migrate(db: SqliteDatabase, path: string, logger: Logger): void {
  db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);');
  const version = db.prepare('SELECT value FROM meta WHERE key = ?').pluck().get('schema') as string | undefined;
  if (version !== undefined && version !== SCHEMA_VERSION && !OLDER_SCHEMAS.has(version)) {
    throw new Error(`usage ledger ${path} has schema ${version}; this Switchyard writes ${SCHEMA_VERSION}`);
  }
  // Creating what is missing is the whole migration from an older schema: tables are only ever added. One
  // transaction, so a ledger is never left with the new tables and the old version (or the other way round).
  db.transaction(() => {
    db.exec(TABLES);
    if (version !== SCHEMA_VERSION) db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run('schema', SCHEMA_VERSION);
  })();
  if (version !== undefined && version !== SCHEMA_VERSION) {
    logger.info(`usage ledger: ${path} migrated from schema ${version} to ${SCHEMA_VERSION}`);
  }
}
