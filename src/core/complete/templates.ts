/**
 * Fill-in-the-middle (FIM) templates, one entry per model family, kept as data: the tokens around prefix and suffix,
 * the stop tokens, and (where the family was trained on one) a repository-level form that carries other files.
 *
 * Sources the tokens were checked against (public, read through the project's search tool, 2026-12):
 * - qwen-coder: QwenLM/Qwen2.5-Coder README ("file-level code completion (fill in the middle)") and the Qwen2.5-Coder
 *   technical report (arXiv 2409.12186), Figure 4 "Repo-Level FIM format"; stops as in continuedev/continue
 *   core/autocomplete/templating/AutocompleteTemplate.ts (qwenCoderFimTemplate).
 * - codellama: Ollama docs/template.md "Fill-in-Middle" (`<PRE> {{ .Prompt }} <SUF>{{ .Suffix }} <MID>`, and its note
 *   that CodeLlama 34B/70B, instruct and Python models do not support FIM); stops as in Continue (codeLlamaFimTemplate).
 * - deepseek-coder: huggingface.co/deepseek-ai/deepseek-coder-1.3b-base (code insertion example) and Continue's
 *   deepseekFimTemplate. The bars are FULLWIDTH VERTICAL LINE U+FF5C and the spaces LOWER ONE EIGHTH BLOCK U+2581,
 *   written as escapes below so no editor or formatter turns them into ASCII.
 * - starcoder / starcoder2 / stable-code: huggingface.co/stabilityai/stable-code-3b and the StarCoder2 paper (arXiv
 *   2402.19173) section 5.1 (`<repo_name>reponame<file_sep>filepath0\ncode0<file_sep><fim_prefix>filepath1\n
 *   code1_pre<fim_suffix>code1_suf<fim_middle>`); stops as in Continue (starcoder2FimTemplate, stableCodeFimTemplate).
 * - codestral: Continue's codestralFimTemplate (`[SUFFIX]{suffix}[PREFIX]{prefix}`). Ollama's own template writes
 *   `[SUFFIX]{{ .Suffix }}[PREFIX] {{ .Prompt }}` (a space after [PREFIX], SentencePiece's word-start mark); that path
 *   is the `suffix` mode, where Ollama applies its own template.
 * - codegemma: ai.google.dev/gemma/docs/codegemma/prompt-structure (`<|fim_prefix|>`, `<|fim_suffix|>`,
 *   `<|fim_middle|>`, `<|file_separator|>`); stops as in Continue (codegemmaFimTemplate).
 *
 * Pure data and string functions: no I/O, no `vscode`.
 */

export type FimFamilyId = 'qwen-coder' | 'codellama' | 'deepseek-coder' | 'starcoder2' | 'starcoder' | 'codestral' | 'codegemma';

export const FIM_FAMILIES: readonly FimFamilyId[] = [
  'qwen-coder',
  'codellama',
  'deepseek-coder',
  'starcoder2',
  'starcoder',
  'codestral',
  'codegemma',
];

/** A snippet of another file (recently edited, an index hit), the shape of llama.cpp's `input_extra` entries. */
export interface Snippet {
  filename: string;
  text: string;
}

/** How a repository-level template lays out other files before the current one. */
export interface RepoLevelForm {
  /** Before everything, when a repository name is known: `{repo}` is replaced. */
  repoHeader: string;
  /** One other file: `{filename}` and `{text}` are replaced. */
  file: string;
  /** The current file's header, before the FIM prefix token (or inside it, see `pathInPrefix`): `{filename}`. */
  currentFile: string;
  /** StarCoder2 writes the current file's path right after `<fim_prefix>` instead of before it. */
  pathInPrefix?: boolean;
}

export interface FimTemplate {
  family: FimFamilyId;
  /** What the family is called in messages. */
  label: string;
  /** The whole file-level prompt: `{prefix}` and `{suffix}` are replaced (each exactly once). */
  template: string;
  /** Stop sequences: the family's control tokens and end-of-text markers. */
  stop: readonly string[];
  repoLevel?: RepoLevelForm;
}

const FW = '\uFF5C'; // ｜ FULLWIDTH VERTICAL LINE
const SP = '\u2581'; // ▁ LOWER ONE EIGHTH BLOCK
const ds = (name: string) => `<${FW}${name}${FW}>`;
export const DEEPSEEK_FIM_BEGIN = ds(`fim${SP}begin`);
export const DEEPSEEK_FIM_HOLE = ds(`fim${SP}hole`);
export const DEEPSEEK_FIM_END = ds(`fim${SP}end`);
const DEEPSEEK_EOS = ds(`end${SP}of${SP}sentence`);

export const FIM_TEMPLATES: Readonly<Record<FimFamilyId, FimTemplate>> = {
  'qwen-coder': {
    family: 'qwen-coder',
    label: 'Qwen Coder',
    template: '<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>',
    stop: [
      '<|endoftext|>',
      '<|fim_prefix|>',
      '<|fim_middle|>',
      '<|fim_suffix|>',
      '<|fim_pad|>',
      '<|repo_name|>',
      '<|file_sep|>',
      '<|im_start|>',
      '<|im_end|>',
    ],
    repoLevel: {
      repoHeader: '<|repo_name|>{repo}\n',
      file: '<|file_sep|>{filename}\n{text}\n',
      currentFile: '<|file_sep|>{filename}\n',
    },
  },
  codellama: {
    family: 'codellama',
    label: 'Code Llama',
    template: '<PRE> {prefix} <SUF>{suffix} <MID>',
    stop: ['<PRE>', '<SUF>', '<MID>', '<EOT>', '</s>'],
  },
  'deepseek-coder': {
    family: 'deepseek-coder',
    label: 'DeepSeek Coder',
    template: `${DEEPSEEK_FIM_BEGIN}{prefix}${DEEPSEEK_FIM_HOLE}{suffix}${DEEPSEEK_FIM_END}`,
    stop: [DEEPSEEK_FIM_BEGIN, DEEPSEEK_FIM_HOLE, DEEPSEEK_FIM_END, DEEPSEEK_EOS, '<|EOT|>'],
  },
  starcoder2: {
    family: 'starcoder2',
    label: 'StarCoder2',
    template: '<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>',
    stop: ['<fim_prefix>', '<fim_suffix>', '<fim_middle>', '<file_sep>', '<|endoftext|>'],
    repoLevel: {
      repoHeader: '<repo_name>{repo}',
      file: '<file_sep>{filename}\n{text}',
      currentFile: '<file_sep>',
      pathInPrefix: true,
    },
  },
  starcoder: {
    family: 'starcoder',
    label: 'StarCoder / Stable Code',
    template: '<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>',
    stop: ['<fim_prefix>', '<fim_suffix>', '<fim_middle>', '<file_sep>', '<|endoftext|>'],
  },
  codestral: {
    family: 'codestral',
    label: 'Codestral',
    template: '[SUFFIX]{suffix}[PREFIX]{prefix}',
    stop: ['[PREFIX]', '[SUFFIX]', '[MIDDLE]', '</s>'],
  },
  codegemma: {
    family: 'codegemma',
    label: 'CodeGemma',
    template: '<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>',
    stop: ['<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>', '<|file_separator|>', '<end_of_turn>', '<eos>'],
  },
};

/**
 * Families by model name, first match wins (lower-cased name, with any provider prefix and tag kept: the patterns
 * look at words inside it). Order matters: `qwen2.5-coder` before the StarCoder-token `codeqwen`, `starcoder2` before
 * `starcoder`, `deepseek-coder` only (a DeepSeek chat or reasoning model has no FIM training).
 */
const BY_NAME: ReadonlyArray<{ family: FimFamilyId; pattern: RegExp }> = [
  { family: 'qwen-coder', pattern: /qwen[\d.]*[-_]?coder/ },
  { family: 'starcoder', pattern: /codeqwen/ }, // CodeQwen1.5 uses the StarCoder tokens
  { family: 'codegemma', pattern: /codegemma/ },
  { family: 'codellama', pattern: /code[-_]?llama/ },
  { family: 'deepseek-coder', pattern: /deepseek[-_]?coder/ },
  { family: 'starcoder2', pattern: /starcoder2|star[-_]coder2/ },
  { family: 'starcoder', pattern: /starcoder|star[-_]coder|stable[-_]?code|octocoder/ },
  { family: 'codestral', pattern: /codestral/ },
];

/** Families by a control token found in a template text (Ollama /api/show `template`). */
const BY_TOKEN: ReadonlyArray<{ family: FimFamilyId; token: string }> = [
  { family: 'deepseek-coder', token: DEEPSEEK_FIM_BEGIN },
  { family: 'codegemma', token: '<|file_separator|>' },
  { family: 'qwen-coder', token: '<|fim_prefix|>' },
  { family: 'starcoder2', token: '<file_sep>' },
  { family: 'starcoder', token: '<fim_prefix>' },
  { family: 'codellama', token: '<PRE>' },
  { family: 'codestral', token: '[SUFFIX]' },
];

export function familyFromName(model: string): FimFamilyId | undefined {
  const name = model.toLowerCase();
  return BY_NAME.find((e) => e.pattern.test(name))?.family;
}

export function familyFromTemplateText(text: string): FimFamilyId | undefined {
  return BY_TOKEN.find((e) => text.includes(e.token))?.family;
}

/** An Ollama template that reads `.Suffix` fills in the middle itself: /api/generate with `prompt` + `suffix`. */
export function ollamaTemplateTakesSuffix(template: string | undefined): boolean {
  return template !== undefined && /\.Suffix\b/.test(template);
}

/**
 * How a model can serve completions.
 * - `raw`: the caller builds the whole FIM string (`buildFimPrompt`) and sends it untemplated: Ollama `/api/generate`
 *   with `raw: true`, OpenAI-compatible `/v1/completions` `prompt`, llama.cpp `/completion`.
 * - `suffix`: the server knows the FIM format: Ollama `/api/generate` with `prompt` (the prefix) and `suffix`; also the
 *   shape of llama.cpp `/infill` (`input_prefix`, `input_suffix`, `input_extra`) and `/v1/completions` with `suffix`.
 *   `template` is set when the family is known too (its stops still help post-processing).
 */
export type FimChoice =
  | { usable: true; mode: 'raw'; template: FimTemplate }
  | { usable: true; mode: 'suffix'; template?: FimTemplate }
  | { usable: false; reason: string };

export interface FimModelInput {
  /** The model's name as the provider lists it (`qwen2.5-coder:7b`, `TheBloke/deepseek-coder-6.7B-base-GGUF`). */
  model: string;
  /** Ollama /api/show `template`, when known. */
  ollamaTemplate?: string;
  /** Ollama /api/show `capabilities`: Ollama lists `insert` (`model.CapabilityInsert`) when the template's variables
   *  include `suffix`, and /api/generate refuses a `suffix` without it (ollama/ollama server: Model.Capabilities and
   *  GenerateHandler), so it means the same as a template that reads `.Suffix`. */
  ollamaCapabilities?: readonly string[];
  /** The server fills in the middle itself (llama.cpp `/infill` with FIM tokens in its vocabulary, a `/v1/completions`
   *  that takes `suffix`): use `suffix` mode whatever the name says. */
  serverInfill?: boolean;
  /** The user named the family for this model (a custom name the patterns cannot know). */
  family?: FimFamilyId;
}

/** Code Llama: only the 7B and 13B base ("code") models were trained for infilling (Ollama docs, Meta's model card). */
function codeLlamaWithoutInfill(name: string): string | undefined {
  if (/instruct|python|\b(34|70)b\b|[:-](34|70)b/.test(name)) {
    return 'Code Llama instruct, Python and 34B/70B models were not trained for fill-in-the-middle';
  }
  return undefined;
}

/** The prefix every unusable result's reason starts with, so the router can show it as a skip reason as is. */
export const NOT_USABLE = 'not usable for completions';

/**
 * Chooses how a model serves completions. An Ollama template with `.Suffix` (or a server that says it infills) wins:
 * the server knows its own format. Otherwise the family from the user's setting, the name, or control tokens in the
 * template selects a raw template. An instruct or chat model with neither is not used: the result says why.
 */
export function chooseFimTemplate(input: FimModelInput): FimChoice {
  const name = input.model.toLowerCase();
  const family =
    input.family ?? familyFromName(name) ?? (input.ollamaTemplate !== undefined ? familyFromTemplateText(input.ollamaTemplate) : undefined);
  const template = family ? FIM_TEMPLATES[family] : undefined;
  if (input.serverInfill || ollamaTemplateTakesSuffix(input.ollamaTemplate) || input.ollamaCapabilities?.includes('insert')) {
    return template ? { usable: true, mode: 'suffix', template } : { usable: true, mode: 'suffix' };
  }
  if (!template) {
    const why =
      input.ollamaTemplate !== undefined
        ? 'its Ollama template has no .Suffix and the model is not a known fill-in-the-middle family (an instruct or chat model)'
        : 'no known fill-in-the-middle format for this model (an instruct or chat model)';
    return { usable: false, reason: `${NOT_USABLE}: ${why}` };
  }
  if (template.family === 'codellama' && !input.family) {
    const why = codeLlamaWithoutInfill(name);
    if (why) return { usable: false, reason: `${NOT_USABLE}: ${why}` };
  }
  return { usable: true, mode: 'raw', template };
}

export type UsableFimChoice = Extract<FimChoice, { usable: true }>;

/** What discovery knows of a model that bears on fill-in-the-middle (a ModelInfo satisfies it). */
export interface FimModelFacts {
  /** The server's prompt template (Ollama /api/show `template`). */
  template?: string;
  capabilities?: { fim?: boolean };
}

/**
 * How a model on a provider of `kind` ("ollama", "llamacpp", "embedded", "openai-compatible") serves completions,
 * from what discovery knows of it. `capabilities.fim` true (Ollama's `insert`, a llama.cpp server that answered
 * /infill) means the server fills in the middle itself. llama.cpp's /infill and the embedded provider's infill use the
 * model's own FIM tokens, which only asking tells: they are tried in `suffix` mode unless known not to have them
 * (a refusal is kind `unsupported`, which falls back). Otherwise the family from the name or template picks a raw
 * template; an instruct-only model gets `usable: false` with the reason.
 */
export function fimChoiceForModel(kind: string, model: string, facts?: FimModelFacts, family?: FimFamilyId): FimChoice {
  const fim = facts?.capabilities?.fim;
  const serverInfill = fim === true || ((kind === 'llamacpp' || kind === 'embedded') && fim === undefined);
  return chooseFimTemplate({ model, ollamaTemplate: kind === 'ollama' ? facts?.template : undefined, serverInfill, family });
}
