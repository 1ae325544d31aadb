/**
 * Typed configuration: the `switchyard.*` keys of settings.json (or of the CLI's --config file), validated against
 * the manifest schema. An invalid entry is dropped with one problem naming its key; everything else keeps working.
 */
import type { ProviderKind } from '../providers/types';
import { SETTINGS, validateAgainst } from './schema';
import { Reader } from './settings';
import { parseTasks } from './tasks';
import { TASK_NAMES, isOneOf, type PrivacyMode, type TaskName } from '../../protocol/vocabulary';

export { closest, splitRef } from './tasks';

export type { PrivacyMode, TaskName };
export const TASKS: readonly TaskName[] = TASK_NAMES;
/** The tasks a chat request (messages in, text out) may name: not `embed` (vectors), not `complete` (fill-in-the-middle). */
export const CHAT_TASKS: readonly TaskName[] = TASKS.filter((t) => t !== 'embed' && t !== 'complete');

export function isTaskName(value: string): value is TaskName {
  return isOneOf(TASK_NAMES, value);
}

/** `switchyard.completion.multiline` (postprocess.ts MultilinePolicy). */
export type CompletionMultiline = 'auto' | 'always' | 'never';

/** `switchyard.completion.*`: inline completions (the `complete` task). */
export interface CompletionSettings {
  enabled: boolean;
  /** Cloud candidates of `complete` may serve, when the privacy policy allows too. */
  allowCloud: boolean;
  debounceMs: number;
  multiline: CompletionMultiline;
  maxLines: number;
  maxPrefixTokens: number;
  maxSuffixTokens: number;
  excludeLanguages: string[];
}

/** `switchyard.redactSecrets`: what happens to secrets in a cloud request. */
export type RedactMode = 'redact' | 'block' | 'off';

export interface ProviderSetting {
  id: string;
  kind: ProviderKind;
  baseUrl?: string;
  preset?: string;
  local?: boolean;
  apiKeyEnv?: string;
  /** Kind `embedded`: a GGUF file or a folder of them. */
  modelPath?: string;
}

export interface CandidateSetting {
  /** "auto" (models found on local servers) or "providerId/model". */
  ref: string;
  temperature?: number;
  maxTokens?: number;
  contextSize?: number;
  /** `false`: the model cannot call tools, so the router skips it for requests that offer tools. */
  tools?: boolean;
  /** Whether the model takes images, whatever discovery says (`false`: skipped for requests with images). */
  vision?: boolean;
}

export interface SwitchyardConfig {
  providers: ProviderSetting[];
  tasks: Record<TaskName, CandidateSetting[]>;
  /** `local-only` whenever `privacyLock` is set, whatever the setting says. */
  privacy: PrivacyMode;
  /**
   * Set when a setting that decides what may leave the machine is invalid (privacy, a provider's `local` flag, a
   * localHosts entry): everything is local-only until it is fixed. Names the key and what is wrong.
   */
  privacyLock?: string;
  workspaceCloudOptOut: boolean;
  localHosts: string[];
  redactSecrets: RedactMode;
  aliases: Record<string, string>;
  firstTokenTimeoutMs: number;
  cooldownMs: number;
  index: { enabled: boolean; exclude: string[]; maxFileSizeKb: number };
  gateway: { port: number; startOnLaunch: boolean; relay: boolean; idleTimeoutSeconds: number };
  /** Days of usage records kept (0: all). */
  usage: { retentionDays: number };
  /** Kind `embedded`: the child process that runs GGUF models. */
  embedded: { idleTimeoutSeconds: number; maxLoadedModels: number; gpu: 'auto' | 'off' };
  completion: CompletionSettings;
}

export interface ConfigProblem {
  key: string;
  message: string;
  /** switchyard.tasks: the tasks left with no model because their entries were ignored (a chat then says so). */
  emptiedTasks?: TaskName[];
}

export interface ParsedConfig {
  config: SwitchyardConfig;
  problems: ConfigProblem[];
}

type Raw = Readonly<Record<string, unknown>>;

/** A host name, an IPv4 address or a bracketed IPv6 address, as URL.hostname gives them (the manifest's pattern). */
const HOST_NAME = new RegExp(SETTINGS['switchyard.localHosts']!.items!.pattern!);

export function isHostName(value: string): boolean {
  return HOST_NAME.test(value);
}

/**
 * The settings that decide what may leave the machine fail closed: an invalid value means local-only for everything
 * (never the default `ask`, which lets a workspace's code reach the cloud after one click), with one problem that
 * names the key. Returns the lock's reason, or undefined when they are all valid.
 */
function privacyLock(raw: Raw, r: Reader): string | undefined {
  const reasons: string[] = [];
  const privacy = raw['switchyard.privacy'];
  if (privacy !== undefined) {
    const p = validateAgainst(SETTINGS['switchyard.privacy']!, privacy, 'switchyard.privacy');
    if (p.length) reasons.push(...p);
  }
  const providers = raw['switchyard.providers'];
  if (Array.isArray(providers)) {
    providers.forEach((item, i) => {
      if (item && typeof item === 'object' && Object.hasOwn(item, 'local') && typeof (item as { local?: unknown }).local !== 'boolean') {
        reasons.push(
          `switchyard.providers[${i}].local: expected true or false, ` +
            `got ${JSON.stringify((item as { local?: unknown }).local) ?? 'undefined'}`,
        );
      }
    });
  }
  const hosts = raw['switchyard.localHosts'];
  if (hosts !== undefined) {
    if (!Array.isArray(hosts))
      reasons.push(`switchyard.localHosts: expected an array of host names, got ${JSON.stringify(hosts)?.slice(0, 60)}`);
    else
      hosts.forEach((h, i) => {
        if (typeof h !== 'string' || !isHostName(h.trim()))
          reasons.push(
            `switchyard.localHosts[${i}]: ${JSON.stringify(h)?.slice(0, 60)} is not a host name (like "gpu-box.lan" or "192.168.1.20")`,
          );
      });
  }
  const optOut = raw['switchyard.workspaceCloudOptOut'];
  if (optOut !== undefined && typeof optOut !== 'boolean')
    reasons.push(`switchyard.workspaceCloudOptOut: expected true or false, got ${JSON.stringify(optOut)?.slice(0, 60)}`);
  if (reasons.length === 0) return undefined;
  const lock = reasons.join('; ');
  r.problems.push({ key: reasons[0]!.split(/[:[]/)[0]!, message: `${lock} (Switchyard is local-only until this is fixed)` });
  return lock;
}

/** `switchyard.providers`: entries with a duplicate id, or a kind that does not match their fields, dropped. */
function parseProviders(raw: Raw, r: Reader): ProviderSetting[] {
  const providers: ProviderSetting[] = [];
  const seen = new Set<string>();
  const drop = (message: string, consequence = 'ignoring that entry') =>
    r.report('switchyard.providers', [`switchyard.providers: ${message}`], consequence);
  for (const p of r.entries('switchyard.providers', raw['switchyard.providers']) ?? []) {
    if (seen.has(p.id)) {
      drop(`the id "${p.id}" is used twice`, 'using the first');
      continue;
    }
    if (p.kind === 'embedded' && (p.baseUrl || p.preset)) {
      drop(
        `"${p.id}" is of kind "embedded", which runs GGUF files itself: give ` +
          `"modelPath" (or nothing, for the models folder), not baseUrl or preset`,
      );
      continue;
    }
    if (p.kind !== 'embedded' && p.modelPath !== undefined) {
      drop(`"${p.id}": modelPath is for kind "embedded" only`);
      continue;
    }
    if (p.kind !== 'embedded' && !p.baseUrl && !p.preset) {
      drop(`"${p.id}" needs a baseUrl or a preset`);
      continue;
    }
    seen.add(p.id);
    providers.push(p);
  }
  return providers;
}

/** The settings read whole (each invalid one at its default); the privacy ones fixed while `lock` holds. */
function wholeSettings(r: Reader, lock: string | undefined): Omit<SwitchyardConfig, 'providers' | 'tasks'> {
  return {
    privacy: lock ? 'local-only' : r.value('switchyard.privacy'),
    ...(lock ? { privacyLock: lock } : {}),
    workspaceCloudOptOut: lock ? true : r.value('switchyard.workspaceCloudOptOut'),
    localHosts: lock ? [] : r.value('switchyard.localHosts').map((h) => h.trim()),
    // Unclear means the safe choice: an invalid value redacts.
    redactSecrets: r.value('switchyard.redactSecrets'),
    aliases: r.value('switchyard.aliases'),
    firstTokenTimeoutMs: r.value('switchyard.routing.firstTokenTimeoutMs'),
    cooldownMs: r.value('switchyard.routing.cooldownMs'),
    index: {
      enabled: r.value('switchyard.index.enabled'),
      exclude: r.value('switchyard.index.exclude'),
      maxFileSizeKb: r.value('switchyard.index.maxFileSizeKb'),
    },
    gateway: {
      port: r.value('switchyard.gateway.port'),
      startOnLaunch: r.value('switchyard.gateway.startOnLaunch'),
      relay: r.value('switchyard.gateway.relay'),
      idleTimeoutSeconds: r.value('switchyard.gateway.idleTimeoutSeconds'),
    },
    usage: { retentionDays: r.value('switchyard.usage.retentionDays') },
    embedded: {
      idleTimeoutSeconds: r.value('switchyard.embedded.idleTimeoutSeconds'),
      maxLoadedModels: r.value('switchyard.embedded.maxLoadedModels'),
      gpu: r.value('switchyard.embedded.gpu'),
    },
    completion: {
      enabled: r.value('switchyard.completion.enabled'),
      // Unclear means the safe choice: an invalid value keeps cloud completions off.
      allowCloud: r.value('switchyard.completion.allowCloud'),
      debounceMs: r.value('switchyard.completion.debounceMs'),
      multiline: r.value('switchyard.completion.multiline'),
      maxLines: r.value('switchyard.completion.maxLines'),
      maxPrefixTokens: r.value('switchyard.completion.maxPrefixTokens'),
      maxSuffixTokens: r.value('switchyard.completion.maxSuffixTokens'),
      excludeLanguages: r.value('switchyard.completion.excludeLanguages'),
    },
  };
}

export function parseConfig(raw: Raw): ParsedConfig {
  const r = new Reader(raw);
  const lock = privacyLock(raw, r);
  const providers = parseProviders(raw, r);
  const tasks = parseTasks(raw['switchyard.tasks'], r, new Set(providers.map((p) => p.id)));
  const config: SwitchyardConfig = { providers, tasks, ...wholeSettings(r, lock) };
  for (const [alias, target] of Object.entries(config.aliases)) {
    if (!isTaskName(target)) {
      r.report(
        'switchyard.aliases',
        [`switchyard.aliases.${alias}: "${target}" is not a task (tasks: ${TASKS.join(', ')})`],
        'ignoring it',
      );
      delete config.aliases[alias];
    }
  }
  for (const key of Object.keys(raw)) {
    if (key.startsWith('switchyard.') && !(key in SETTINGS)) {
      r.report(key, [`${key} is not a Switchyard setting`], 'ignoring it');
    }
  }
  return { config, problems: r.problems };
}

/** The config with every setting at its manifest default. */
export function defaultConfig(): SwitchyardConfig {
  return parseConfig({}).config;
}
