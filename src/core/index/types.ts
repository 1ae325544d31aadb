/**
 * What the rest of Switchyard needs from the workspace index: chat and Explain ask it for context, the status bar
 * shows its state. The index implements this; callers never touch its store.
 */
export interface RetrievedChunk {
  /** Path relative to the indexed folder, with forward slashes. */
  path: string;
  /** The indexed folder's absolute path, so callers can open the file. */
  root: string;
  startLine: number;
  endLine: number;
  symbol?: string;
  language?: string;
  text: string;
  /** Higher is better; comparable within one result list only. */
  score: number;
}

export interface RetrieveOptions {
  k?: number;
  /** Stop adding chunks once their estimated tokens would pass this budget. */
  tokenBudget?: number;
  /** Only paths matching these globs / these languages. */
  paths?: string[];
  languages?: string[];
  signal?: AbortSignal;
}

export interface IndexStatus {
  state: 'idle' | 'indexing' | 'disabled' | 'error';
  filesDone: number;
  filesTotal: number;
  chunks: number;
  embeddingsPending: number;
  /** True when vectors are missing and search is keyword-only. */
  keywordOnly: boolean;
  /** e.g. "embeddings paused: ollama unreachable", or why the index is disabled. */
  message?: string;
}

export interface Retriever {
  search(query: string, options?: RetrieveOptions): Promise<RetrievedChunk[]>;
  status(): IndexStatus;
}
