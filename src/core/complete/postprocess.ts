/**
 * Turns a model's raw infill into what the editor may show, or `undefined` when nothing should be shown.
 *
 * Rules, in order: cut at the first stop token; decide single- or multi-line (policy + where the cursor is) and cut;
 * cap the lines; drop a suggestion whose first line repeats the line above; cut a multi-line suggestion where it starts
 * repeating the suffix's next line; do not insert a closing bracket the suffix already has; trim the end that overlaps
 * the suffix's start; trim trailing whitespace at the end of a line; never return only whitespace.
 */

export type MultilinePolicy = 'auto' | 'always' | 'never';

export const DEFAULT_MAX_LINES = 10;

export interface PostProcessInput {
  /** The model's raw output. */
  completion: string;
  prefix: string;
  suffix: string;
  stop?: readonly string[];
  /** `auto` (default): several lines only at an empty line or after a block opener, with nothing but closers after
   *  the cursor. `never`: the rest of the current line only. `always`: several lines wherever the cursor is. */
  multiline?: MultilinePolicy;
  maxLines?: number;
}

const OPENERS: Readonly<Record<string, string>> = { '(': ')', '[': ']', '{': '}' };
const CLOSERS: Readonly<Record<string, string>> = { ')': '(', ']': '[', '}': '{' };
/** What may follow the cursor on its line for a multi-line suggestion: closers, separators, whitespace. */
const ONLY_CLOSERS = /^[\s)\]}>;,'"`]*$/;
/** Overlap made only of these may be trimmed even when one character long. */
const PUNCT_ONLY = /^[\s)\]}>;,:.'"`]+$/;

export function cutAtStop(text: string, stop: readonly string[] | undefined): string {
  let end = text.length;
  for (const s of stop ?? []) {
    if (!s) continue;
    const i = text.indexOf(s);
    if (i >= 0 && i < end) end = i;
  }
  return text.slice(0, end);
}

function currentLinePrefix(prefix: string): string {
  return prefix.slice(prefix.lastIndexOf('\n') + 1);
}

function restOfLine(suffix: string): string {
  const nl = suffix.indexOf('\n');
  return nl < 0 ? suffix : suffix.slice(0, nl);
}

/** The first non-blank line of the suffix after the cursor's line, trimmed ('' when none). */
function nextSuffixLine(suffix: string): string {
  const nl = suffix.indexOf('\n');
  if (nl < 0) return '';
  for (const line of suffix.slice(nl + 1).split('\n')) if (line.trim() !== '') return line.trim();
  return '';
}

/** The last non-blank line of the prefix before the cursor's line, trimmed ('' when none). */
function lineAbove(prefix: string): string {
  const lines = prefix.split('\n');
  lines.pop();
  for (let i = lines.length - 1; i >= 0; i--) if (lines[i]!.trim() !== '') return lines[i]!.trim();
  return '';
}

/** Whether the cursor's place allows a multi-line suggestion under the policy. */
export function allowsMultiline(prefix: string, suffix: string, policy: MultilinePolicy = 'auto'): boolean {
  if (policy === 'never') return false;
  if (policy === 'always') return true;
  if (!ONLY_CLOSERS.test(restOfLine(suffix))) return false;
  const line = currentLinePrefix(prefix);
  return line.trim() === '' || /(?:[{([:]|=>)\s*$/.test(line);
}

/**
 * Index of the first closing bracket in `text` that closes nothing opened in `text` (it closes something in the
 * prefix), skipping brackets inside quotes on the same line; -1 when none.
 */
function firstExcessCloser(text: string): number {
  const stack: string[] = [];
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote || c === '\n') quote = '';
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if (OPENERS[c]) stack.push(c);
    else if (CLOSERS[c]) {
      if (stack.length === 0) return i;
      if (stack[stack.length - 1] === CLOSERS[c]) stack.pop();
    }
  }
  return -1;
}

/** Closers matched inside `text` (positions), so overlap trimming never removes one the completion itself needs. */
function matchedCloserPositions(text: string): Set<number> {
  const stack: number[] = [];
  const matched = new Set<number>();
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (OPENERS[c]) stack.push(i);
    else if (CLOSERS[c] && stack.length && text[stack[stack.length - 1]!] === CLOSERS[c]) {
      stack.pop();
      matched.add(i);
    }
  }
  return matched;
}

function count(text: string, ch: string): number {
  let n = 0;
  for (const c of text) if (c === ch) n++;
  return n;
}

/**
 * Removes the end of `text` that the suffix's line already starts with: "bar();" before ";" gives "bar()". An overlap
 * of one or two characters is trimmed only when it is punctuation; a closer the completion itself opened, or a quote
 * it opened and closed, is never trimmed.
 */
export function trimSuffixOverlap(text: string, suffixLine: string): string {
  const max = Math.min(text.length, suffixLine.length);
  if (max === 0) return text;
  const matched = matchedCloserPositions(text);
  for (let k = max; k >= 1; k--) {
    const part = suffixLine.slice(0, k);
    if (!text.endsWith(part)) continue;
    if (part.trim() === '') continue;
    if (k < 3 && !PUNCT_ONLY.test(part)) continue;
    const from = text.length - k;
    let safe = true;
    for (let i = from; i < text.length && safe; i++) {
      const c = text[i]!;
      if (CLOSERS[c] && matched.has(i)) safe = false;
      if ((c === '"' || c === "'" || c === '`') && count(text, c) % 2 === 0) safe = false;
    }
    if (safe) return text.slice(0, from);
  }
  return text;
}

/** The completion with each rule applied, or undefined when nothing is left worth showing. */
export function postProcess(input: PostProcessInput): string | undefined {
  const { prefix, suffix } = input;
  let text = cutAtStop(input.completion, input.stop).replace(/\r\n/g, '\n');
  const linePrefix = currentLinePrefix(prefix);
  const suffixLine = restOfLine(suffix);
  const atLineEnd = suffixLine.trim() === '';

  // Single- or multi-line.
  const multi = allowsMultiline(prefix, suffix, input.multiline);
  let lines = text.split('\n');
  if (!multi) lines = lines.slice(0, 1);
  const maxLines = Math.max(1, input.maxLines ?? DEFAULT_MAX_LINES);
  if (lines.length > maxLines) lines = lines.slice(0, maxLines);

  // The first line repeats the line above: the model is looping.
  const above = lineAbove(prefix);
  if (above !== '' && lines[0]!.trim() !== '' && (linePrefix + lines[0]!).trim() === above) return undefined;

  // A suggestion that reaches the suffix's next line would write it twice: stop before it (nothing left: drop it).
  const next = nextSuffixLine(suffix);
  if (next !== '') {
    const at = lines.findIndex((l, i) => (i === 0 ? l.trim() !== '' && (linePrefix + l).trim() : l.trim()) === next);
    if (at === 0) return undefined;
    if (at > 0) lines = lines.slice(0, at);
  }
  text = lines.join('\n').replace(/(?:\n[ \t]*)+$/, '');

  // Do not insert a closer the suffix already has: cut at the first bracket that closes something in the prefix
  // when the suffix's line starts with that same bracket.
  const head = suffixLine.trimStart()[0];
  const excess = firstExcessCloser(text);
  if (excess >= 0 && head !== undefined && text[excess] === head) text = text.slice(0, excess);

  text = trimSuffixOverlap(text, suffixLine);
  if (atLineEnd) text = text.replace(/[ \t]+$/, '');
  if (text.trim() === '') return undefined;
  return text;
}
