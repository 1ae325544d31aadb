/**
 * How the embedded worker sends a generation to the host: node-llama-cpp's response chunks (main text, or a segment
 * such as a thinking model's thoughts) become `text` messages, the pieces of one turn of the event loop joined into
 * one message (fewer IPC messages than tokens), and answer text and reasoning never mixed in one message.
 */

/** The part of node-llama-cpp's LlamaChatResponseChunk this reads: `type` is "segment" for thoughts (and comments). */
export interface ResponseChunk {
  type: 'segment' | undefined;
  text: string;
}

export interface PieceBatcher {
  /** A chunk as node-llama-cpp's onResponseChunk hands it over. */
  add(chunk: ResponseChunk): void;
  /** Sends what is held now (at the end of a generation). */
  flush(): void;
}

export function pieceBatcher(send: (text: string, reasoning: boolean) => void, aborted: () => boolean): PieceBatcher {
  let pending = '';
  let pendingReasoning = false;
  let timer: ReturnType<typeof setImmediate> | undefined;
  const flush = (): void => {
    if (timer) clearImmediate(timer);
    timer = undefined;
    if (pending !== '' && !aborted()) send(pending, pendingReasoning);
    pending = '';
  };
  return {
    add(chunk) {
      if (chunk.text === '' || aborted()) return;
      const reasoning = chunk.type === 'segment';
      if (reasoning !== pendingReasoning) {
        flush();
        pendingReasoning = reasoning;
      }
      pending += chunk.text;
      timer ??= setImmediate(flush);
    },
    flush,
  };
}
