/**
 * The index's vectors: sqlite-vec cosine distance over float vectors keyed by chunk hash, with each vector's sign bits
 * kept beside it for a first pass in memory once the index is large (BitIndex).
 */
import type { Ranked } from './store';
import type { Db } from './storeSchema';

/** `auto`: an exact scan up to EXACT_SCAN_LIMIT vectors, the binary first pass above it. */
export type VectorMode = 'auto' | 'exact' | 'binary';

/** Below this many vectors KNN is an exact scan; above it, a binary-quantized first pass re-scored with floats. */
const EXACT_SCAN_LIMIT = 20_000;

export function toBlob(v: Float32Array | number[]): Buffer {
  const f = v instanceof Float32Array ? v : Float32Array.from(v);
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength);
}

/** Sign bits of a vector, packed into 32-bit words (bit j of the vector is bit j%32 of word j/32). */
export function quantize(vector: readonly number[]): Uint32Array {
  const out = new Uint32Array(Math.ceil(vector.length / 32));
  for (let j = 0; j < vector.length; j++) if (vector[j]! > 0) out[j >>> 5]! |= 1 << (j & 31);
  return out;
}

/** The vectors table of one index: KNN, inserts and pruning, and the in-memory bit index of the first pass. */
export class VectorSearch {
  private bits?: BitIndex;
  private insertStmt?: ReturnType<Db['prepare']>;

  constructor(private readonly db: Db) {}

  /** The vectors were dropped or replaced: the bit index is loaded again when next needed. */
  reset(): void {
    this.bits = undefined;
  }

  /**
   * Inserts vectors of `dims` dimensions (one whose hash is stored already is kept) in one transaction; `added` is
   * called inside it for each hash inserted.
   */
  insert(dims: number, items: readonly { hash: string; vector: number[] }[], added: (hash: string) => void): void {
    const insert = (this.insertStmt ??= this.db
      .prepare('insert into vectors(hash, vec, bits) values (?, ?, ?) on conflict(hash) do nothing returning id')
      .pluck());
    const inserted: { id: number; bits: Uint32Array }[] = [];
    this.db.transaction(() => {
      for (const { hash, vector } of items) {
        if (vector.length !== dims) throw new Error(`a vector of ${vector.length} dimensions for a ${dims}-dimension index`);
        const bits = quantize(vector);
        const id = insert.get(hash, toBlob(vector), Buffer.from(bits.buffer, bits.byteOffset, bits.byteLength)) as number | undefined;
        if (id === undefined) continue;
        inserted.push({ id, bits });
        added(hash);
      }
    })();
    if (this.bits) for (const a of inserted) this.bits.add(a.id, a.bits);
  }

  /** Deletes the vectors no chunk uses any more; returns how many went. */
  prune(): number {
    let n = 0;
    this.db.transaction(() => {
      const ids = this.db
        .prepare('select id from vectors v where not exists (select 1 from chunks c where c.hash = v.hash)')
        .pluck()
        .all() as number[];
      const delVec = this.db.prepare('delete from vectors where id = ?');
      for (const id of ids) delVec.run(id);
      n = ids.length;
    })();
    if (n > 0) this.bits = undefined;
    return n;
  }

  /** Nearest chunks to a query vector of `dims` dimensions by cosine distance; best first. */
  nearest(dims: number, vector: number[], limit: number, languages: readonly string[] | undefined, mode: VectorMode): Ranked[] {
    const count = this.db.prepare('select count(*) from vectors').pluck().get() as number;
    if (count === 0) return [];
    const q = toBlob(vector);
    let hashes: { hash: string; raw: number }[];
    if (mode === 'exact' || (mode === 'auto' && count <= EXACT_SCAN_LIMIT)) {
      hashes = this.db.prepare('select hash, vec_distance_cosine(vec, ?) as raw from vectors order by raw limit ?').all(q, limit * 4) as {
        hash: string;
        raw: number;
      }[];
    } else {
      // First pass on 1-bit vectors (Hamming distance, scanned in memory), then the float re-score of the survivors.
      this.bits ??= BitIndex.load(this.db, dims);
      const ids = this.bits.nearest(quantize(vector), Math.max(200, limit * 8));
      const sql = `select hash, vec_distance_cosine(vec, ?) as raw from vectors where id in (${ids.join(',')}) order by raw limit ?`;
      hashes = ids.length ? (this.db.prepare(sql).all(q, limit * 4) as { hash: string; raw: number }[]) : [];
    }
    if (hashes.length === 0) return [];
    const langFilter = languages?.length ? `and language in (${languages.map(() => '?').join(',')})` : '';
    const byHash = this.db.prepare(`select id from chunks where hash = ? ${langFilter}`).pluck();
    const out: Ranked[] = [];
    for (const h of hashes) {
      for (const id of byHash.all(h.hash, ...(languages ?? [])) as number[]) out.push({ id, raw: h.raw });
      if (out.length >= limit) break;
    }
    return out.slice(0, limit);
  }
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/**
 * Every vector's sign bits in one typed array: a Hamming scan of 100k 384-dimension vectors takes a few ms in the
 * worker (sqlite-vec's vec0 KNN slows down sharply as k grows, measured here: 25 ms at k=200, 230 ms at k=1000).
 */
class BitIndex {
  private ids: Int32Array;
  private data: Uint32Array;
  private n = 0;

  private constructor(
    private readonly words: number,
    capacity: number,
  ) {
    this.ids = new Int32Array(Math.max(16, capacity));
    this.data = new Uint32Array(Math.max(16, capacity) * words);
  }

  static load(db: Db, dims: number): BitIndex {
    const words = Math.ceil(dims / 32);
    const count = db.prepare('select count(*) from vectors').pluck().get() as number;
    const index = new BitIndex(words, count + 1024);
    for (const row of db.prepare('select id, bits from vectors').iterate() as Iterable<{ id: number; bits: Buffer }>) {
      index.add(row.id, new Uint32Array(row.bits.buffer.slice(row.bits.byteOffset, row.bits.byteOffset + words * 4)));
    }
    return index;
  }

  add(id: number, bits: Uint32Array): void {
    if (this.n === this.ids.length) {
      const ids = new Int32Array(this.ids.length * 2);
      ids.set(this.ids);
      const data = new Uint32Array(this.data.length * 2);
      data.set(this.data);
      this.ids = ids;
      this.data = data;
    }
    this.ids[this.n] = id;
    this.data.set(bits.subarray(0, this.words), this.n * this.words);
    this.n++;
  }

  /** Ids of the `count` vectors nearest to `query` by Hamming distance (a counting sort on the distance). */
  nearest(query: Uint32Array, count: number): number[] {
    const { n, words, data } = this;
    const dist = new Uint16Array(n);
    const buckets = new Uint32Array(words * 32 + 2);
    for (let i = 0; i < n; i++) {
      let d = 0;
      const o = i * words;
      for (let w = 0; w < words; w++) d += popcount(data[o + w]! ^ query[w]!);
      dist[i] = d;
      buckets[d]!++;
    }
    let cutoff = 0;
    for (let seen = 0; cutoff < buckets.length && seen < count; cutoff++) seen += buckets[cutoff]!;
    const out: number[] = [];
    for (let i = 0; i < n && out.length < count; i++) if (dist[i]! < cutoff) out.push(this.ids[i]!);
    return out;
  }
}
