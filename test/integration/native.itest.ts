// The native parts shipped in the .vsix (better-sqlite3 prebuilds, sqlite-vec's vec0 binary) must load in the real
// extension host, from the installed extension's own folder, not from the repository's node_modules.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { suite, test } from './framework';

suite('native modules in the installed .vsix', () => {
  test('better-sqlite3 opens a database and sqlite-vec loads into it', () => {
    const ext = vscode.extensions.getExtension('switchyard.switchyard');
    assert.ok(ext, 'switchyard.switchyard is not installed');
    const requireFromExtension = createRequire(path.join(ext.extensionPath, 'package.json'));
    const resolved = requireFromExtension.resolve('better-sqlite3');
    assert.ok(resolved.startsWith(ext.extensionPath), `better-sqlite3 resolved outside the extension: ${resolved}`);
    const Database = requireFromExtension('better-sqlite3');
    const sqliteVec = requireFromExtension('sqlite-vec');
    const db = new Database(':memory:');
    try {
      sqliteVec.load(db);
      const row = db.prepare('select vec_version() as v, sqlite_version() as s').get() as { v: string; s: string };
      assert.match(row.v, /^v\d+\.\d+\.\d+/);
      // FTS5 is compiled in (the index needs it).
      db.exec("create virtual table t using fts5(body); insert into t(body) values ('hello routing world')");
      const hit = db.prepare("select count(*) as n from t where t match 'routing'").get() as { n: number };
      assert.equal(hit.n, 1);
      const knn = db.prepare("select vec_distance_l2(vec_f32('[1,0,0]'), vec_f32('[0,1,0]')) as d").get() as { d: number };
      assert.ok(Math.abs(knn.d - Math.SQRT2) < 1e-6);
    } finally {
      db.close();
    }
  });
});
