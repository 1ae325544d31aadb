/**
 * The closed name lists Switchyard's parts share: tasks, provider kinds, preset ids, privacy modes and the actions an
 * error can offer. Each is written once here, as an `as const` array with its union type derived from it; core, the
 * adapter and webview-ui import it (src/protocol is the one place all of them may import). package.json declares the
 * same enums for settings.json: test/unit/vocabulary.test.ts fails when the manifest and these lists differ.
 */

/** The tasks a request names; the router resolves each to its ordered candidates (`switchyard.tasks`). */
export const TASK_NAMES = ['chat', 'explain', 'edit', 'commitMessage', 'summarize', 'embed', 'complete'] as const;
export type TaskName = (typeof TASK_NAMES)[number];

/** One provider class per kind (`switchyard.providers[].kind`). */
export const PROVIDER_KINDS = ['ollama', 'openai-compatible', 'llamacpp', 'embedded'] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];

/** Named OpenAI-compatible endpoints (`switchyard.providers[].preset`; their data is core/providers/presets.ts). */
export const PRESET_IDS = ['openai', 'anthropic', 'gemini', 'xai', 'openrouter', 'together', 'lmstudio', 'vllm'] as const;
export type PresetId = (typeof PRESET_IDS)[number];

/** `switchyard.privacy`. */
export const PRIVACY_MODES = ['local-only', 'ask', 'allow'] as const;
export type PrivacyMode = (typeof PRIVACY_MODES)[number];

/** What an error (or the first-run view) offers to do; the chat view's host runs them (src/vscode/chat/actions.ts). */
export const ERROR_ACTION_IDS = [
  'retry',
  'startOllama',
  'pullModel',
  'setApiKey',
  'openSettings',
  'showLogs',
  'downloadGguf',
  'walkthrough',
] as const;
export type ErrorActionId = (typeof ERROR_ACTION_IDS)[number];

/** Whether a string is one of a list's names (narrowing it to the list's type). */
export function isOneOf<T extends string>(list: readonly T[], value: unknown): value is T {
  return typeof value === 'string' && (list as readonly string[]).includes(value);
}
