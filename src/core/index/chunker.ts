/**
 * Splits a file into chunks that follow its symbols. A symbol (function, method, class, interface…) that fits the
 * budget is one chunk; a larger one is split at its children's boundaries, each part carrying the symbol's signature
 * as context. Code between symbols (imports, statements) is grouped into windows. Files without a grammar are cut into
 * line windows, Markdown at its headings. The budget is in tokens of the embedding model (estimated, and for dense
 * code counted as a WordPiece/BPE vocabulary splits it: see `chunkTokens`), not characters.
 *
 * web-tree-sitter and each grammar load lazily, once. The bundled extension finds the .wasm files next to its own
 * script (esbuild copies them into dist/); from source they come from node_modules.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Language as TSLanguage, Node as TSNode, Parser as TSParser } from 'web-tree-sitter';
import { chunkTokens as estimateTokens } from './budget';
import { GRAMMARS, grammarOf, type GrammarSpec, type SymbolKind } from './languages';

export interface Chunk {
  /** 1-based, inclusive. */
  startLine: number;
  endLine: number;
  symbol?: string;
  kind?: SymbolKind;
  /** What is indexed and embedded: the lines, preceded by the enclosing symbol's signature when split. */
  text: string;
  /** sha1 of text: an unchanged chunk keeps its vector. */
  hash: string;
  tokens: number;
}

export interface WasmLocation {
  /** Folder of web-tree-sitter's own tree-sitter.wasm. */
  runtime: string;
  /** Folder of the grammar .wasm files. */
  grammars: string;
}

/** Where the .wasm files are: next to the bundle (dist/, dist/grammars/) or in node_modules when run from source. */
export function findWasm(): WasmLocation {
  const here = typeof __dirname === 'string' ? __dirname : process.cwd();
  if (fs.existsSync(path.join(here, 'tree-sitter.wasm')) && fs.existsSync(path.join(here, 'grammars'))) {
    return { runtime: here, grammars: path.join(here, 'grammars') };
  }
  let dir = here;
  for (let i = 0; i < 8; i++) {
    const nm = path.join(dir, 'node_modules');
    if (fs.existsSync(path.join(nm, 'web-tree-sitter', 'tree-sitter.wasm'))) {
      return { runtime: path.join(nm, 'web-tree-sitter'), grammars: path.join(nm, '@vscode', 'tree-sitter-wasm', 'wasm') };
    }
    dir = path.dirname(dir);
  }
  throw new Error(`tree-sitter .wasm files not found near ${here}`);
}

export function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

const FUNCTION_VALUES = new Set(['arrow_function', 'function_expression', 'function', 'generator_function']);
const CONTAINER_KINDS = new Set<SymbolKind>(['class', 'interface', 'struct', 'trait', 'impl', 'enum', 'module']);

interface SymbolInfo {
  name: string;
  kind: SymbolKind;
  /** The declaration itself (inside export / decorator / template wrappers). */
  decl: TSNode;
}

interface Scope {
  prefix?: string;
  kind?: SymbolKind;
  /** Signature lines of the enclosing symbols, prepended to each part. */
  context?: string;
  /** The context without this scope's own signature, for the part that holds the signature itself. */
  outer?: string;
  /** Last row of this scope's signature. */
  sigRow?: number;
}

/** Cuts one file; `lines` and per-line token estimates are computed once. */
class FileCutter {
  readonly chunks: Chunk[] = [];
  private readonly lines: string[];
  private readonly prefix: number[];

  constructor(
    text: string,
    private readonly budget: number,
    private readonly spec?: GrammarSpec,
  ) {
    this.lines = text.split('\n');
    this.prefix = new Array<number>(this.lines.length + 1);
    this.prefix[0] = 0;
    for (let i = 0; i < this.lines.length; i++) this.prefix[i + 1] = this.prefix[i]! + estimateTokens(this.lines[i]!) + 1;
  }

  get lastRow(): number {
    return this.lines.length - 1;
  }

  tokens(a: number, b: number): number {
    return this.prefix[b + 1]! - this.prefix[a]!;
  }

  private blank(a: number, b: number): boolean {
    for (let r = a; r <= b; r++) if (this.lines[r]!.trim() !== '') return false;
    return true;
  }

  private push(a: number, b: number, scope: Scope, symbol?: string, kind?: SymbolKind): void {
    const body = this.lines.slice(a, b + 1).join('\n');
    const context = scope.sigRow !== undefined && a <= scope.sigRow ? scope.outer : scope.context;
    const text = context ? `${context}\n${body}` : body;
    this.chunks.push({ startLine: a + 1, endLine: b + 1, symbol, kind, text, hash: sha1(text), tokens: estimateTokens(text) });
  }

  /** Rows a..b as one chunk when they fit, else as consecutive windows that do. Blank ranges are dropped. */
  range(a: number, b: number, scope: Scope, symbol?: string, kind?: SymbolKind): void {
    while (a <= b && this.lines[a]!.trim() === '') a++;
    while (b >= a && this.lines[b]!.trim() === '') b--;
    if (a > b) return;
    // A lone closing brace (the end of a split symbol) is no chunk of its own.
    if (b - a < 2 && /^[\s})\];,]*(end)?[\s})\];,]*$/.test(this.lines.slice(a, b + 1).join(''))) return;
    const room = Math.max(16, this.budget - (scope.context ? estimateTokens(scope.context) : 0));
    if (this.tokens(a, b) <= room) {
      this.push(a, b, scope, symbol, kind);
      return;
    }
    let start = a;
    while (start <= b) {
      let end = start;
      while (end < b && this.tokens(start, end + 1) <= room) end++;
      this.push(start, end, scope, symbol, kind);
      start = end + 1;
    }
  }

  /** Markdown: one section per heading (outside code fences). */
  markdown(): void {
    let fence = false;
    let start = 0;
    let heading: string | undefined;
    const flush = (end: number) => {
      if (end >= start) this.range(start, end, {}, heading, heading ? 'section' : undefined);
    };
    for (let r = 0; r < this.lines.length; r++) {
      const line = this.lines[r]!;
      if (/^\s*(```|~~~)/.test(line)) fence = !fence;
      if (fence) continue;
      const m = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
      if (m) {
        flush(r - 1);
        start = r;
        heading = m[2];
      }
    }
    flush(this.lastRow);
  }

  private symbolInfo(node: TSNode, scope: Scope): SymbolInfo | undefined {
    const spec = this.spec!;
    let decl: TSNode | null = node;
    for (let depth = 0; decl && spec.wrappers && Object.hasOwn(spec.wrappers, decl.type) && depth < 3; depth++) {
      const field: string = spec.wrappers[decl.type]!;
      decl = field ? decl.childForFieldName(field) : lastNamed(decl, (n) => Object.hasOwn(spec.symbols, n.type));
    }
    if (!decl || !Object.hasOwn(spec.symbols, decl.type)) return undefined;
    let kind = spec.symbols[decl.type]!;
    let name: string | undefined;
    if (decl.type === 'lexical_declaration' || decl.type === 'variable_declaration') {
      const declarator = decl.namedChildren.find((c) => c?.type === 'variable_declarator');
      const value = declarator?.childForFieldName('value');
      if (!declarator || !value) return undefined;
      if (value.type === 'class') kind = 'class';
      else if (!FUNCTION_VALUES.has(value.type)) return undefined;
      name = declarator.childForFieldName('name')?.text;
    } else if (/_specifier$/.test(decl.type) && !decl.childForFieldName('body')) {
      return undefined; // `struct S x;`, a forward declaration: not a definition
    } else {
      name = symbolName(decl);
    }
    if (kind === 'function' && scope.kind && CONTAINER_KINDS.has(scope.kind)) kind = 'method';
    return { name: name ?? '(anonymous)', kind, decl };
  }

  /** A run of sibling nodes between rows lo..hi (rows of the enclosing range not covered by a node are glue). */
  sequence(nodes: TSNode[], lo: number, hi: number, scope: Scope): void {
    let cursor = lo; // first row not yet in a chunk
    let glueEnd = -1; // last row of pending glue (glue runs cursor..glueEnd)
    let commentStart = -1; // start row of a comment run right before the next node
    const glueSymbol = scope.prefix;
    const flushGlue = (upTo: number) => {
      const end = Math.min(glueEnd, upTo);
      if (end >= cursor) this.range(cursor, end, scope, glueSymbol, glueSymbol ? scope.kind : undefined);
      cursor = Math.max(cursor, end + 1);
      glueEnd = -1;
    };
    for (const node of nodes) {
      const s = Math.max(node.startPosition.row, cursor);
      const e = Math.min(node.endPosition.row, hi);
      if (e < cursor) continue;
      if (node.type.includes('comment')) {
        if (commentStart < 0) commentStart = s;
        glueEnd = Math.max(glueEnd, e);
        continue;
      }
      const sym = this.symbolInfo(node, scope);
      if (!sym) {
        commentStart = -1;
        glueEnd = Math.max(glueEnd, e);
        if (this.tokens(cursor, glueEnd) > this.budget) flushGlue(glueEnd);
        continue;
      }
      const start = commentStart >= 0 ? commentStart : s;
      commentStart = -1;
      // Glue before the symbol (not its leading comments); blank gaps are skipped.
      if (glueEnd >= cursor && start - 1 >= cursor && !this.blank(cursor, start - 1)) {
        glueEnd = start - 1;
        flushGlue(start - 1);
      }
      glueEnd = -1;
      cursor = start;
      this.symbol(node, sym, start, e, scope);
      cursor = Math.max(cursor, e + 1);
    }
    if (cursor <= hi && !this.blank(cursor, hi)) {
      glueEnd = hi;
      flushGlue(hi);
    }
  }

  private symbol(node: TSNode, sym: SymbolInfo, start: number, end: number, scope: Scope): void {
    const name = scope.prefix ? `${scope.prefix}.${sym.name}` : sym.name;
    const room = this.budget - (scope.context ? estimateTokens(scope.context) : 0);
    if (this.tokens(start, end) <= room) {
      this.range(start, end, scope, name, sym.kind);
      return;
    }
    const body = bodyOf(sym.decl);
    const children = body ? body.namedChildren.filter((c): c is TSNode => c !== null) : [];
    if (!body || children.length < 2) {
      this.range(start, end, scope, name, sym.kind);
      return;
    }
    // The signature: from the declaration's first line to the line where its body opens (at most 3 lines).
    const sigStart = node.startPosition.row;
    const sigEnd = Math.min(body.startPosition.row, sigStart + 2);
    const signature = this.lines.slice(sigStart, sigEnd + 1).join('\n');
    const context = scope.context ? `${scope.context}\n${signature}` : signature;
    this.sequence(children, start, end, { prefix: name, kind: sym.kind, context, outer: scope.context, sigRow: sigEnd });
  }
}

function lastNamed(node: TSNode, pred: (n: TSNode) => boolean): TSNode | null {
  const kids = node.namedChildren;
  for (let i = kids.length - 1; i >= 0; i--) {
    const k = kids[i];
    if (k && pred(k)) return k;
  }
  return null;
}

function symbolName(decl: TSNode): string | undefined {
  const named = decl.childForFieldName('name');
  if (named) return named.text;
  if (decl.type === 'type_declaration') {
    const spec = decl.namedChildren.find((c) => c?.type === 'type_spec' || c?.type === 'type_alias');
    return spec?.childForFieldName('name')?.text;
  }
  if (decl.type === 'impl_item') {
    const type = decl.childForFieldName('type')?.text;
    const trait = decl.childForFieldName('trait')?.text;
    return trait ? `${trait} for ${type}` : type;
  }
  let d = decl.childForFieldName('declarator');
  for (let i = 0; d && i < 8; i++) {
    const inner = d.childForFieldName('declarator');
    if (!inner) break;
    d = inner;
  }
  if (d) return d.text;
  return decl.namedChildren.find((c) => c !== null && /identifier|^name$|^constant$/.test(c.type))?.text;
}

function bodyOf(decl: TSNode): TSNode | null {
  const body = decl.childForFieldName('body');
  if (body) return body;
  if (decl.type === 'type_declaration') {
    const spec = decl.namedChildren.find((c) => c?.type === 'type_spec');
    const type = spec?.childForFieldName('type');
    return type?.namedChildren.find((c) => c !== null && c.namedChildCount > 0) ?? null;
  }
  if (decl.type === 'lexical_declaration' || decl.type === 'variable_declaration') {
    const value = decl.namedChildren.find((c) => c?.type === 'variable_declarator')?.childForFieldName('value');
    return value?.childForFieldName('body') ?? null;
  }
  return lastNamed(decl, (n) => n.namedChildCount >= 2);
}

type TreeSitter = typeof import('web-tree-sitter');

export class Chunker {
  private runtime?: Promise<TreeSitter>;
  private readonly languages = new Map<string, Promise<TSLanguage>>();
  private parser?: TSParser;

  constructor(private readonly wasm: WasmLocation = findWasm()) {}

  private init(): Promise<TreeSitter> {
    this.runtime ??= (async () => {
      const ts = await import('web-tree-sitter');
      await ts.Parser.init({ locateFile: (file: string) => path.join(this.wasm.runtime, file) });
      return ts;
    })();
    return this.runtime;
  }

  private async language(grammar: string): Promise<TSLanguage> {
    let p = this.languages.get(grammar);
    if (!p) {
      p = this.init().then((ts) => ts.Language.load(path.join(this.wasm.grammars, GRAMMARS[grammar]!.wasm)));
      this.languages.set(grammar, p);
    }
    return p;
  }

  /** Chunks of one file's text. */
  async chunk(text: string, language: string, budget: number): Promise<Chunk[]> {
    const grammar = grammarOf(language);
    if (!grammar) {
      const cutter = new FileCutter(text, budget);
      if (language === 'markdown') cutter.markdown();
      else cutter.range(0, cutter.lastRow, {});
      return cutter.chunks;
    }
    const ts = await this.init();
    const lang = await this.language(grammar);
    this.parser ??= new ts.Parser();
    this.parser.setLanguage(lang);
    const tree = this.parser.parse(text);
    const cutter = new FileCutter(text, budget, GRAMMARS[grammar]);
    if (!tree) {
      cutter.range(0, cutter.lastRow, {});
      return cutter.chunks;
    }
    try {
      const root = tree.rootNode;
      cutter.sequence(
        root.namedChildren.filter((c): c is TSNode => c !== null),
        0,
        cutter.lastRow,
        {},
      );
    } finally {
      tree.delete();
    }
    return cutter.chunks;
  }
}
