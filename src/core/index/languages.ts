/**
 * Which language a file is, which tree-sitter grammar parses it, and which of its syntax nodes are symbols.
 * Grammars come from @vscode/tree-sitter-wasm (ABI 15). That pack has no C grammar: C files are parsed with the C++
 * grammar, which accepts C's declarations, and are labelled `c`.
 */
import path from 'node:path';

export type SymbolKind =
  'function' | 'method' | 'class' | 'interface' | 'type' | 'enum' | 'struct' | 'trait' | 'impl' | 'module' | 'namespace' | 'section';

export interface GrammarSpec {
  /** File name of the grammar in @vscode/tree-sitter-wasm's wasm/ folder (and in dist/grammars). */
  wasm: string;
  /** Node type → symbol kind. */
  symbols: Readonly<Record<string, SymbolKind>>;
  /** Wrapper nodes whose inner declaration names the symbol (export, decorators, templates). */
  wrappers?: Readonly<Record<string, string>>;
}

const JS_SYMBOLS: Record<string, SymbolKind> = {
  function_declaration: 'function',
  generator_function_declaration: 'function',
  class_declaration: 'class',
  class: 'class',
  abstract_class_declaration: 'class',
  method_definition: 'method',
  interface_declaration: 'interface',
  type_alias_declaration: 'type',
  enum_declaration: 'enum',
  internal_module: 'namespace',
  module: 'module',
  // `const f = () => …` and `const f = function …`: recognised by the chunker when the value is a function.
  lexical_declaration: 'function',
  variable_declaration: 'function',
};

const JS_WRAPPERS = { export_statement: 'declaration' };

export const GRAMMARS: Readonly<Record<string, GrammarSpec>> = {
  typescript: { wasm: 'tree-sitter-typescript.wasm', symbols: JS_SYMBOLS, wrappers: JS_WRAPPERS },
  tsx: { wasm: 'tree-sitter-tsx.wasm', symbols: JS_SYMBOLS, wrappers: JS_WRAPPERS },
  javascript: { wasm: 'tree-sitter-javascript.wasm', symbols: JS_SYMBOLS, wrappers: JS_WRAPPERS },
  python: {
    wasm: 'tree-sitter-python.wasm',
    symbols: { function_definition: 'function', class_definition: 'class' },
    wrappers: { decorated_definition: 'definition' },
  },
  go: {
    wasm: 'tree-sitter-go.wasm',
    symbols: { function_declaration: 'function', method_declaration: 'method', type_declaration: 'type' },
  },
  rust: {
    wasm: 'tree-sitter-rust.wasm',
    symbols: {
      function_item: 'function',
      struct_item: 'struct',
      enum_item: 'enum',
      union_item: 'struct',
      trait_item: 'trait',
      impl_item: 'impl',
      mod_item: 'module',
      macro_definition: 'function',
    },
  },
  java: {
    wasm: 'tree-sitter-java.wasm',
    symbols: {
      class_declaration: 'class',
      interface_declaration: 'interface',
      enum_declaration: 'enum',
      record_declaration: 'class',
      annotation_type_declaration: 'interface',
      method_declaration: 'method',
      constructor_declaration: 'method',
    },
  },
  cpp: {
    wasm: 'tree-sitter-cpp.wasm',
    symbols: {
      function_definition: 'function',
      class_specifier: 'class',
      struct_specifier: 'struct',
      union_specifier: 'struct',
      enum_specifier: 'enum',
      namespace_definition: 'namespace',
    },
    wrappers: { template_declaration: '' },
  },
  csharp: {
    wasm: 'tree-sitter-c-sharp.wasm',
    symbols: {
      class_declaration: 'class',
      interface_declaration: 'interface',
      struct_declaration: 'struct',
      enum_declaration: 'enum',
      record_declaration: 'class',
      method_declaration: 'method',
      constructor_declaration: 'method',
      namespace_declaration: 'namespace',
      file_scoped_namespace_declaration: 'namespace',
    },
  },
  ruby: {
    wasm: 'tree-sitter-ruby.wasm',
    symbols: { method: 'method', singleton_method: 'method', class: 'class', module: 'module' },
  },
  php: {
    wasm: 'tree-sitter-php.wasm',
    symbols: {
      function_definition: 'function',
      class_declaration: 'class',
      interface_declaration: 'interface',
      trait_declaration: 'trait',
      enum_declaration: 'enum',
      method_declaration: 'method',
      namespace_definition: 'namespace',
    },
  },
  bash: { wasm: 'tree-sitter-bash.wasm', symbols: { function_definition: 'function' } },
};

/** Language id → grammar id (C uses the C++ grammar). */
const GRAMMAR_OF: Readonly<Record<string, string>> = {
  typescript: 'typescript',
  tsx: 'tsx',
  javascript: 'javascript',
  python: 'python',
  go: 'go',
  rust: 'rust',
  java: 'java',
  c: 'cpp',
  cpp: 'cpp',
  csharp: 'csharp',
  ruby: 'ruby',
  php: 'php',
  shell: 'bash',
};

const BY_EXTENSION: Readonly<Record<string, string>> = {
  '.ts': 'typescript',
  '.mts': 'typescript',
  '.cts': 'typescript',
  '.tsx': 'tsx',
  '.js': 'javascript',
  '.mjs': 'javascript',
  '.cjs': 'javascript',
  '.jsx': 'javascript',
  '.py': 'python',
  '.pyi': 'python',
  '.go': 'go',
  '.rs': 'rust',
  '.java': 'java',
  '.c': 'c',
  '.h': 'c',
  '.cc': 'cpp',
  '.cpp': 'cpp',
  '.cxx': 'cpp',
  '.hh': 'cpp',
  '.hpp': 'cpp',
  '.hxx': 'cpp',
  '.cs': 'csharp',
  '.rb': 'ruby',
  '.php': 'php',
  '.sh': 'shell',
  '.bash': 'shell',
  '.md': 'markdown',
  '.markdown': 'markdown',
  '.mdx': 'markdown',
  '.json': 'json',
  '.yaml': 'yaml',
  '.yml': 'yaml',
  '.toml': 'toml',
  '.css': 'css',
  '.scss': 'scss',
  '.html': 'html',
  '.sql': 'sql',
  '.kt': 'kotlin',
  '.swift': 'swift',
  '.txt': 'text',
};

const BY_NAME: Readonly<Record<string, string>> = {
  Dockerfile: 'dockerfile',
  Makefile: 'makefile',
  Rakefile: 'ruby',
  Gemfile: 'ruby',
};

/** The language id of a path ("typescript", "markdown", …); "text" for anything else. */
export function languageOf(filePath: string): string {
  const base = path.basename(filePath);
  return BY_NAME[base] ?? BY_EXTENSION[path.extname(base).toLowerCase()] ?? 'text';
}

/** The grammar that parses a language, or undefined (line windows; Markdown by headings). */
export function grammarOf(language: string): string | undefined {
  return GRAMMAR_OF[language];
}
