/**
 * The model settings panel's protocol (host ⇄ webview-ui/settings.main.ts). settings.json is the source of truth:
 * the host sends `settings/state` on `ready` and again whenever a `switchyard.*` setting changes (a hand edit too);
 * the panel's edits are requests the host writes to settings. API keys never travel here: the panel asks the host
 * to prompt for one, and only learns whether a key is stored.
 */
import type { Cancel, Ready, Request } from './envelope';
import type { PrivacyMode, ProviderKind, TaskName } from './vocabulary';

export type SettingsTask = TaskName;
export type ProviderKindView = ProviderKind;
export type PrivacyModeView = PrivacyMode;

export interface ProviderView {
  id: string;
  kind: ProviderKindView;
  baseUrl?: string;
  preset?: string;
  /** As configured (undefined: decided by the host name). */
  local?: boolean;
  /** What applies. */
  effectiveLocal: boolean;
  effectiveBaseUrl: string;
  apiKeyEnv?: string;
  hasStoredKey: boolean;
  /** Found with nothing configured (zero-config discovery), not in switchyard.providers. */
  implicit: boolean;
  /** Implicit providers: whether a server answered on that port when this state was made. */
  answered?: boolean;
}

export interface CandidateView {
  /** "auto" or "providerId/model". */
  model: string;
  temperature?: number;
  maxTokens?: number;
  contextSize?: number;
  /** `false`: the model cannot call tools (the router skips it for tool requests); kept as the user wrote it. */
  tools?: boolean;
  /** Whether the model takes images (overrides discovery for requests with images); kept as the user wrote it. */
  vision?: boolean;
}

export interface ModelOption {
  ref: string;
  providerId: string;
  local: boolean;
  contextLength?: number;
  /** USD per million tokens in / out. */
  price?: { input: number; output: number };
  chat: boolean;
  embeddings: boolean;
  tools?: boolean;
  vision?: boolean;
  /** From the catalog only (not reported by a server). */
  catalogOnly: boolean;
}

export interface RouteView {
  /** "box/qwen2.5-coder:7b (local)" or "no model available". */
  answer: string;
  local?: boolean;
  asksFirst?: boolean;
  skipped: string[];
}

export interface SettingsState {
  providers: ProviderView[];
  tasks: Record<SettingsTask, CandidateView[]>;
  privacy: PrivacyModeView;
  /** switchyard.workspaceCloudOptOut in this workspace (and whether any level sets it). */
  workspaceOptOut: boolean;
  optOutAnywhere: boolean;
  trusted: boolean;
  hasWorkspace: boolean;
  /** Settings problems, named by key. */
  problems: string[];
  /** The base URL a new or edited provider of each kind starts with (the standard local port of that server). */
  defaultUrls?: Partial<Record<ProviderKindView, string>>;
}

export interface TestResult {
  ok: boolean;
  latencyMs?: number;
  version?: string;
  modelCount?: number;
  errorKind?: string;
  message?: string;
}

/** A provider as the panel edits it (fields it does not show, such as modelPath, are kept by the host). */
export interface ProviderEdit {
  id: string;
  kind: ProviderKindView;
  baseUrl?: string;
  preset?: string;
  local?: boolean;
  apiKeyEnv?: string;
}

/** The Models section: what each local Ollama server has installed, and the GGUF files embedded providers serve. */
export interface InstalledModels {
  ollama: {
    providerId: string;
    baseUrl: string;
    /** Set when the server could not be listed (not running, …): the section says so instead of "no models". */
    error?: string;
    models: { name: string; sizeBytes: number; size: string; family?: string; parameterSize?: string; quantization?: string }[];
  }[];
  gguf: {
    /** The folder (global storage, or an embedded provider's folder modelPath) and the embedded providers serving it. */
    dir: string;
    providerIds: string[];
    files: { id: string; sizeBytes: number; size: string }[];
  }[];
}

/** Which model to delete: an Ollama model on a provider, or a GGUF file in one of the folders the host listed. */
export type ModelTarget = { kind: 'ollama'; providerId: string; model: string } | { kind: 'gguf'; dir: string; id: string };

/** Webview → host requests: name → [payload, reply payload]. */
export interface SettingsRequests {
  'settings/setTask': [{ task: SettingsTask; candidates: CandidateView[] }, null];
  'settings/saveProvider': [{ previousId?: string; provider: ProviderEdit }, null];
  'settings/removeProvider': [{ id: string }, null];
  'settings/setKey': [{ providerId: string }, { stored: boolean }];
  'settings/clearKey': [{ providerId: string }, null];
  'settings/test': [{ providerId: string }, TestResult];
  'settings/models': [{ refresh?: boolean }, ModelOption[]];
  'settings/routes': [Record<string, never>, Record<SettingsTask, RouteView>];
  'settings/setPrivacy': [{ mode: PrivacyModeView }, null];
  'settings/setOptOut': [{ value: boolean }, null];
  'settings/openJson': [Record<string, never>, null];
  'settings/installed': [Record<string, never>, InstalledModels];
  /** Runs switchyard.pullModel (progress and cancel in a notification); done is false when canceled or failed. */
  'settings/pullModel': [{ providerId: string; model: string }, { done: boolean }];
  /** The host asks for confirmation in a modal; deleted is false when the user declines or it fails. */
  'settings/deleteModel': [{ target: ModelTarget }, { deleted: boolean }];
  'settings/downloadGguf': [{ url: string; sha256?: string; providerId?: string }, { done: boolean }];
}

export interface SettingsNotifications {
  'settings/state': SettingsState;
  /** A model was pulled, deleted or downloaded (from the panel or anywhere else): the Models section's new list. */
  'settings/installed': InstalledModels;
}

export type SettingsRequestName = keyof SettingsRequests;
type SettingsRequest = { [N in SettingsRequestName]: Request<N, SettingsRequests[N][0]> }[SettingsRequestName];
export type ToSettingsHost = SettingsRequest | Ready | Cancel;
