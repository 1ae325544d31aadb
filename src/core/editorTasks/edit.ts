/**
 * The `edit` task: code rewritten as the user asks (Edit Selection). The prompt carries the code, its file and a few
 * lines around it; the answer is used only through its fenced code block (the rest of the model's words are ignored),
 * with the indentation and the final newline of the original kept.
 */
import type { TurnRequest } from '../chat/turn';

export interface EditInput {
  /** The code to rewrite (the selection, or the enclosing symbol). */
  code: string;
  instruction: string;
  /** Workspace-relative path and language id of the file. */
  path: string;
  language: string;
  /** A few lines before and after the code, for context only. */
  before?: string;
  after?: string;
}

export const EDIT_SYSTEM_PROMPT =
  'You are Switchyard, a coding assistant that rewrites code. Apply the instruction to the code you ' +
  'are given and reply with the complete rewritten code in one fenced code block. Keep everything ' +
  'the instruction does not ask to change (names, comments, formatting, indentation). Do not add ' +
  'explanations inside the block; the code around it is context only and is not part of what you rewrite.';

/** The lines shown around the code, each side. */
export const EDIT_CONTEXT_LINES = 20;

export function editTurn(input: EditInput, signal?: AbortSignal): TurnRequest {
  const fence = fenceFor(`${input.before ?? ''}${input.code}${input.after ?? ''}`);
  const parts = [`File: ${input.path} (${input.language})`];
  if (input.before?.trim())
    parts.push(`Code before it (context, do not repeat):\n${fence}${input.language}\n${input.before.replace(/\n$/, '')}\n${fence}`);
  parts.push(`The code to rewrite:\n${fence}${input.language}\n${input.code.replace(/\n$/, '')}\n${fence}`);
  if (input.after?.trim())
    parts.push(`Code after it (context, do not repeat):\n${fence}${input.language}\n${input.after.replace(/\n$/, '')}\n${fence}`);
  parts.push(`Instruction: ${input.instruction.trim()}`, 'Reply with the rewritten code in one fenced code block.');
  return { task: 'edit', system: EDIT_SYSTEM_PROMPT, question: parts.join('\n\n'), signal };
}

/** A fence longer than any run of backticks in the text. */
function fenceFor(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  return '`'.repeat(longest + 1);
}

/**
 * The code of the first fenced block of a model's answer. While it streams (`done` false) an open block gives what
 * has arrived so far (a partial last line of a closing fence held back); once done, an answer without a block, or
 * with an unclosed one, gives what the block holds or undefined when there is none.
 */
export function extractCodeBlock(text: string, done: boolean): string | undefined {
  const open = /(^|\n)[ \t]*(`{3,}|~{3,})[^\n`]*\n/.exec(text);
  if (!open) return undefined;
  const fence = open[2]!;
  const start = open.index + open[0].length;
  const rest = text.slice(start);
  const close = new RegExp(`(^|\\n)[ \\t]*${fence[0] === '`' ? '`' : '~'}{${fence.length},}[ \\t]*(\\n|$)`).exec(rest);
  if (close) return rest.slice(0, close.index);
  if (done) return rest.replace(/\n$/, '');
  // Streaming: the last line may be the start of the closing fence.
  const nl = rest.lastIndexOf('\n');
  const last = rest.slice(nl + 1);
  if (/^[ \t]*[`~]*$/.test(last)) return rest.slice(0, Math.max(0, nl));
  return rest;
}

const indentOf = (line: string) => /^[ \t]*/.exec(line)![0];

/**
 * The model's code fitted back where the original was: when every line lost the same leading indentation the
 * original had (models often answer flush left), it is put back; the original's final newline is kept.
 */
export function fitToOriginal(code: string, original: string): string {
  let out = code;
  const minIndent = (text: string) =>
    text
      .split('\n')
      .filter((l) => l.trim())
      .map(indentOf)
      .reduce<string | undefined>((a, b) => (a === undefined || b.length < a.length ? b : a), undefined) ?? '';
  const want = minIndent(original);
  const have = minIndent(out);
  if (want.length > have.length && want.startsWith(have)) {
    const add = want.slice(have.length);
    out = out
      .split('\n')
      .map((l) => (l.trim() ? add + l : l))
      .join('\n');
  }
  // A selection that started mid-line (after the indentation) keeps starting there.
  if (!/^[ \t]/.test(original)) out = out.replace(/^[ \t]+/, '');
  if (original.endsWith('\n') && !out.endsWith('\n')) out += '\n';
  if (!original.endsWith('\n') && out.endsWith('\n')) out = out.replace(/\n+$/, '');
  return out;
}
