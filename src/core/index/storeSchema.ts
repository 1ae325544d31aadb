/**
 * The index database's file and layout: opening it (sqlite-vec loaded, WAL, a quick check), moving a file that
 * cannot be read aside, rebuilding on a schema mismatch, and the one migration that keeps data (schema 2 to 3).
 */
import fs from 'node:fs';
import path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { ftsBody } from './tokens';

/**
 * 3: the full-text index stems words (FTS5's porter tokenizer over unicode61), so "arrays", "cloning" and "parsed"
 * meet "array", "clone" and "parse". A version-2 database keeps its files, chunks and vectors: only the full-text
 * index is rebuilt from the stored chunks, once, when it is opened.
 */
export const SCHEMA_VERSION = 3;

/** FTS5 tokenizer of the chunks' full-text index (and of the scratch table that stems query words the same way). */
export const TOKENIZER = 'porter unicode61 remove_diacritics 2';

export type Db = BetterSqlite3.Database;

function loadNative(): { Database: typeof BetterSqlite3; vec: { load(db: Db): void } } {
  // Native modules stay external to the bundle; required lazily so activation never loads them.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Database = require('better-sqlite3') as typeof BetterSqlite3;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const vec = require('sqlite-vec') as { load(db: Db): void };
  return { Database, vec };
}

/**
 * Opens (or creates) the index database at `file`; moves an unreadable or corrupt file aside and starts afresh.
 * `messages` says what happened (moved aside, rebuilt), for the user.
 */
export function openIndexDatabase(file: string): { db: Db; messages: string[] } {
  const { Database, vec } = loadNative();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const messages: string[] = [];
  const attempt = (): Db => {
    const db = new Database(file, { timeout: 5000 });
    try {
      vec.load(db);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      const check = db.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw Object.assign(new Error(`integrity check: ${String(check)}`), { code: 'SQLITE_CORRUPT' });
      migrate(db, messages);
      db.exec("create virtual table if not exists temp.chunks_vocab using fts5vocab(main, 'chunks_fts', 'row')");
      return db;
    } catch (e) {
      db.close();
      throw e;
    }
  };
  try {
    return { db: attempt(), messages };
  } catch (e) {
    const code = (e as { code?: string }).code ?? '';
    if (!/^SQLITE_(CORRUPT|NOTADB|IOERR|CANTOPEN|FORMAT)/.test(code) && !(e instanceof RangeError)) throw e;
    const aside = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    for (const suffix of ['', '-wal', '-shm']) {
      if (fs.existsSync(file + suffix)) fs.renameSync(file + suffix, aside + suffix);
    }
    const why = code || (e as Error).message;
    messages.push(`The index database could not be read (${why}); it was moved aside to ${aside} and the index is being rebuilt.`);
    return { db: attempt(), messages };
  }
}

/** Another schema version drops everything (a rebuild); version 2 gets the stemming full-text index; then the schema. */
function migrate(db: Db, messages: string[]): void {
  const hasMeta = db.prepare("select 1 from sqlite_master where type = 'table' and name = 'meta'").get() !== undefined;
  const version = hasMeta ? (db.prepare("select value from meta where key = 'schema'").pluck().get() as string | undefined) : undefined;
  const upgradeFts = version !== undefined && Number(version) === 2;
  if (version !== undefined && Number(version) !== SCHEMA_VERSION && !upgradeFts) {
    messages.push(`The index was built by another version of Switchyard (schema ${version}, now ${SCHEMA_VERSION}): rebuilding it.`);
    dropAll(db);
  }
  if (upgradeFts) {
    const n = rebuildFts(db);
    const what = `rebuilt from ${n} stored chunks, nothing re-embedded`;
    messages.push(`The keyword index was upgraded to stem words (schema 2 to ${SCHEMA_VERSION}): ${what}.`);
  }
  createSchema(db);
}

function dropAll(db: Db): void {
  const objects = db
    .prepare("select type, name from sqlite_master where type in ('table') and name not like 'sqlite_%' and name not like '%_fts_%'")
    .all() as { type: string; name: string }[];
  for (const o of objects) db.exec(`drop table if exists "${o.name}"`);
}

/** Schema 2 to 3: the full-text index again with the stemming tokenizer, from the chunks table, in one transaction. */
function rebuildFts(db: Db): number {
  let n = 0;
  db.transaction(() => {
    db.exec('drop table if exists chunks_fts');
    createSchema(db);
    const insert = db.prepare('insert into chunks_fts(rowid, symbol, body, path) values (?, ?, ?, ?)');
    // In pages by id (a statement cannot write while another one iterates on the same connection).
    const page = db.prepare(
      'select c.id, c.symbol, c.text, f.path from chunks c join files f on f.id = c.file_id where c.id > ? order by c.id limit 1000',
    );
    for (let from = 0; ;) {
      const rows = page.all(from) as { id: number; symbol: string | null; text: string; path: string }[];
      for (const r of rows) insert.run(r.id, r.symbol ? ftsBody(r.symbol) : '', ftsBody(r.text), ftsBody(r.path));
      n += rows.length;
      if (rows.length < 1000) break;
      from = rows[rows.length - 1]!.id;
    }
    db.prepare("update meta set value = ? where key = 'schema'").run(String(SCHEMA_VERSION));
  })();
  return n;
}

function createSchema(db: Db): void {
  db.exec(`
    create table if not exists meta(key text primary key, value text not null);
    create table if not exists files(
      id integer primary key, path text not null unique, hash text not null, size integer not null, mtime real not null,
      language text not null, skipped text, chunks integer not null);
    create table if not exists chunks(
      id integer primary key, file_id integer not null, start_line integer not null, end_line integer not null,
      symbol text, kind text, language text not null, hash text not null, tokens integer not null, text text not null);
    create index if not exists chunks_file on chunks(file_id);
    create index if not exists chunks_hash on chunks(hash);
    create table if not exists vectors(id integer primary key, hash text not null unique, vec blob not null, bits blob not null);
    create virtual table if not exists chunks_fts using fts5(symbol, body, path, content='', contentless_delete=1, tokenize='${TOKENIZER}');
  `);
  db.prepare("insert into meta(key, value) values ('schema', ?) on conflict(key) do nothing").run(String(SCHEMA_VERSION));
}
