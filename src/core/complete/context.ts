/**
 * The context of one completion: prefix and suffix around the cursor within token budgets (cut at line boundaries),
 * other files' snippets within their own budget, and the prompt a template makes of them.
 *
 * Token counts use the project's one estimate (`estimateTokens`, conservative: it over-counts), so a budget here means
 * the same as everywhere else.
 */
import { estimateTokens } from '../providers/tokenEstimate';
import { allowsMultiline } from './postprocess';
import type { MultilinePolicy } from './postprocess';
import type { FimChoice, FimFamilyId, FimTemplate, Snippet } from './templates';

export const DEFAULT_MAX_PREFIX_TOKENS = 1500;
export const DEFAULT_MAX_SUFFIX_TOKENS = 500;
export const DEFAULT_MAX_EXTRA_TOKENS = 1000;
/** Answer budgets: one line rarely needs more than this; several lines are capped by `maxLines` afterwards too. */
export const SINGLE_LINE_MAX_TOKENS = 64;
export const MULTI_LINE_MAX_TOKENS = 256;

export interface ContextBudget {
  maxPrefixTokens?: number;
  maxSuffixTokens?: number;
  /** For all snippets together. */
  maxExtraTokens?: number;
}

export interface CompletionContext {
  prefix: string;
  suffix: string;
  /** The snippets that fit, each possibly cut at a line boundary; in the order given (most relevant first). */
  extra: Snippet[];
  /** The current file's path as the model should see it (relative to the workspace), when known. */
  filename?: string;
  /** The workspace folder's name, for repository-level templates. */
  repo?: string;
}

export interface ContextInput extends ContextBudget {
  /** The whole document. */
  text: string;
  /** The cursor, as a UTF-16 offset into `text`. */
  offset: number;
  extra?: readonly Snippet[];
  filename?: string;
  repo?: string;
}

/**
 * The part of `text[0, end)` that ends at `end` and fits `budget` tokens: whole lines from the cursor's line upward.
 * The cursor's own line (the text before the cursor on it) is always kept; only when it alone is over budget is it
 * cut, from its start.
 */
export function prefixWithin(text: string, end: number, budget: number): string {
  let start = text.lastIndexOf('\n', end - 1) + 1; // start of the cursor's line
  if (estimateTokens(text.slice(start, end)) > budget) return text.slice(Math.max(start, end - budget * 3), end);
  while (start > 0) {
    const prev = start >= 2 ? text.lastIndexOf('\n', start - 2) + 1 : 0;
    if (estimateTokens(text.slice(prev, end)) > budget) break;
    start = prev;
  }
  return text.slice(start, end);
}

/**
 * The part of `text[start, …)` that starts at `start` and fits `budget` tokens: the rest of the cursor's line, then whole
 * lines downward (each with its newline). The rest of the cursor's line is always kept (cut at its end if over budget).
 */
export function suffixWithin(text: string, start: number, budget: number): string {
  const lineEnd = (from: number) => {
    const nl = text.indexOf('\n', from);
    return nl < 0 ? text.length : nl + 1;
  };
  let end = lineEnd(start);
  if (estimateTokens(text.slice(start, end)) > budget) return text.slice(start, Math.min(end, start + budget * 3));
  while (end < text.length) {
    const next = lineEnd(end);
    if (estimateTokens(text.slice(start, next)) > budget) break;
    end = next;
  }
  return text.slice(start, end);
}

/** Snippets in order until the budget is spent; the one that crosses it is cut at a line boundary (or dropped). */
export function snippetsWithin(snippets: readonly Snippet[], budget: number): Snippet[] {
  const out: Snippet[] = [];
  let left = budget;
  for (const s of snippets) {
    const cost = estimateTokens(s.filename) + 2;
    if (left - cost <= 0) break;
    const text = suffixWithin(s.text, 0, left - cost);
    // A snippet cut inside its first line is noise: stop there.
    if (text.length < s.text.length && !text.endsWith('\n')) break;
    if (text.trim() === '') continue;
    out.push({ filename: s.filename, text });
    left -= cost + estimateTokens(text);
  }
  return out;
}

/**
 * The offset of a 1-based line and column (as editors and `switchyard complete --line --column` show them; columns in
 * UTF-16 code units, as VS Code counts). A line past the end gives the end; a column past the line's end gives the
 * line's end. Undefined for a line or column below 1.
 */
export function offsetAt(text: string, line: number, column: number): number | undefined {
  if (!Number.isInteger(line) || !Number.isInteger(column) || line < 1 || column < 1) return undefined;
  let start = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) return text.length;
    start = nl + 1;
  }
  let end = text.indexOf('\n', start);
  if (end < 0) end = text.length;
  if (end > start && text[end - 1] === '\r') end--;
  return Math.min(start + column - 1, end);
}

/** Prefix, suffix and snippets around the cursor, each within its budget. */
export function buildContext(input: ContextInput): CompletionContext {
  const offset = Math.max(0, Math.min(input.offset, input.text.length));
  return {
    prefix: prefixWithin(input.text, offset, input.maxPrefixTokens ?? DEFAULT_MAX_PREFIX_TOKENS),
    suffix: suffixWithin(input.text, offset, input.maxSuffixTokens ?? DEFAULT_MAX_SUFFIX_TOKENS),
    extra: snippetsWithin(input.extra ?? [], input.maxExtraTokens ?? DEFAULT_MAX_EXTRA_TOKENS),
    filename: input.filename,
    repo: input.repo,
  };
}

/** Replaces `{name}` placeholders in one pass, so a value that itself contains `{suffix}` or `$&` stays as it is. */
export function fill(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? values[name]! : whole));
}

/**
 * What a provider sends for one completion.
 * - `raw`: `prompt` is the whole FIM string (send it untemplated: Ollama `raw: true`, `/v1/completions` `prompt`).
 * - `suffix`: `prompt` is the prefix and `suffix` the suffix (Ollama `/api/generate` `prompt` + `suffix`,
 *   `/v1/completions` with `suffix`, llama.cpp `/infill` via `infillBody`).
 * `extra` holds the snippets the prompt does not carry (for llama.cpp `input_extra`); a repository-level template
 * folds them into the prompt and leaves `extra` empty.
 */
export interface FimPrompt {
  mode: 'raw' | 'suffix';
  prompt: string;
  suffix?: string;
  /** The family's stops, plus "\n" when only one line can be shown (the server stops early, post-processing agrees). */
  stop: string[];
  extra: Snippet[];
  family?: FimFamilyId;
  /** Whether the cursor's place and the policy allow several lines (see `allowsMultiline`). */
  multiline: boolean;
  /** The answer budget to send (Ollama `num_predict`, `max_tokens`, llama.cpp `n_predict`). */
  maxTokens: number;
}

export interface FimPromptOptions {
  multiline?: MultilinePolicy;
}

function rawPrompt(t: FimTemplate, ctx: CompletionContext): { prompt: string; folded: boolean } {
  const form = t.repoLevel;
  if (!form || ctx.extra.length === 0) {
    return { prompt: fill(t.template, { prefix: ctx.prefix, suffix: ctx.suffix }), folded: false };
  }
  const filename = ctx.filename ?? 'untitled';
  let head = ctx.repo !== undefined ? fill(form.repoHeader, { repo: ctx.repo }) : '';
  for (const s of ctx.extra) head += fill(form.file, { filename: s.filename, text: s.text });
  if (form.pathInPrefix) {
    head += form.currentFile;
    return { prompt: head + fill(t.template, { prefix: `${filename}\n${ctx.prefix}`, suffix: ctx.suffix }), folded: true };
  }
  head += fill(form.currentFile, { filename });
  return { prompt: head + fill(t.template, { prefix: ctx.prefix, suffix: ctx.suffix }), folded: true };
}

/** The request parts for a usable choice (see `chooseFimTemplate`). */
export function buildFimPrompt(
  choice: Extract<FimChoice, { usable: true }>,
  ctx: CompletionContext,
  options: FimPromptOptions = {},
): FimPrompt {
  const multiline = allowsMultiline(ctx.prefix, ctx.suffix, options.multiline);
  const stop = [...(choice.template?.stop ?? []), ...(multiline ? [] : ['\n'])];
  const maxTokens = multiline ? MULTI_LINE_MAX_TOKENS : SINGLE_LINE_MAX_TOKENS;
  const family = choice.template?.family;
  if (choice.mode === 'suffix') {
    return { mode: 'suffix', prompt: ctx.prefix, suffix: ctx.suffix, stop, extra: ctx.extra, family, multiline, maxTokens };
  }
  const { prompt, folded } = rawPrompt(choice.template, ctx);
  return { mode: 'raw', prompt, stop, extra: folded ? [] : ctx.extra, family, multiline, maxTokens };
}

/** llama.cpp server `/infill` body fields (the server applies the model's FIM tokens from its vocabulary). */
export function infillBody(ctx: CompletionContext): { input_prefix: string; input_suffix: string; input_extra: Snippet[] } {
  return { input_prefix: ctx.prefix, input_suffix: ctx.suffix, input_extra: ctx.extra.map((s) => ({ ...s })) };
}
