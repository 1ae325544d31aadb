/**
 * Typed configuration: the `switchyard.*` keys of settings.json (or of the CLI's --config file), validated against
 * the manifest schema. An invalid entry is dropped with one problem naming its key; everything else keeps working.
 */
import type { ProviderKind } from '../providers/types';
import { LOCAL_DEFAULTS, PRESETS } from '../providers/presets';
import { SETTINGS, manifestDefault, validateAgainst, type JsonSchema } from './schema';
import { TASK_NAMES, isOneOf, type PrivacyMode, type TaskName } from '../../protocol/vocabulary';

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

/** Splits "providerId/model" at the first slash (model names may contain slashes, e.g. OpenRouter's). */
export function splitRef(ref: string): { providerId: string; model: string } | undefined {
  const slash = ref.indexOf('/');
  if (slash <= 0 || slash === ref.length - 1) return undefined;
  return { providerId: ref.slice(0, slash), model: ref.slice(slash + 1) };
}

type Raw = Readonly<Record<string, unknown>>;

/**
 * Settings are JSON. A JSON round trip also copies values that structuredClone refuses, such as the read-only
 * proxies VS Code's configuration API returns.
 */
function jsonClone(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

class Reader {
  readonly problems: ConfigProblem[] = [];
  constructor(private readonly raw: Raw) {}

  /** A whole-value setting: invalid → the manifest default, with a problem. */
  value<T>(key: string): T {
    const schema = SETTINGS[key];
    const value = this.raw[key];
    if (value === undefined) return manifestDefault(key) as T;
    const problems = validateAgainst(schema, value, key);
    if (problems.length === 0) return jsonClone(value) as T;
    this.report(key, problems, 'using the default');
    return manifestDefault(key) as T;
  }

  /** An array setting whose entries are checked one by one: invalid entries are dropped. */
  entries<T>(key: string, raw: unknown, schema: JsonSchema = SETTINGS[key]): T[] | undefined {
    if (raw === undefined) return undefined;
    if (!Array.isArray(raw)) {
      this.report(key, validateAgainst(schema, raw, key), 'ignoring it');
      return undefined;
    }
    const out: T[] = [];
    raw.forEach((item, i) => {
      const problems = validateAgainst(schema.items ?? {}, item, `${key}[${i}]`);
      if (problems.length === 0) out.push(jsonClone(item) as T);
      else this.report(key, problems, 'ignoring that entry');
    });
    return out;
  }

  report(key: string, problems: string[], consequence: string): void {
    this.problems.push({ key, message: `${problems.join('; ')} (${consequence})` });
  }
}

function normalizeCandidate(item: string | { model: string; temperature?: number; maxTokens?: number; contextSize?: number; tools?: boolean; vision?: boolean }): CandidateSetting {
  if (typeof item === 'string') return { ref: item };
  const { model, ...params } = item;
  return { ref: model, ...params };
}

/** A host name, an IPv4 address or a bracketed IPv6 address, as URL.hostname gives them (the manifest's pattern). */
const HOST_NAME = new RegExp(SETTINGS['switchyard.localHosts'].items!.pattern!);

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
    const p = validateAgainst(SETTINGS['switchyard.privacy'], privacy, 'switchyard.privacy');
    if (p.length) reasons.push(...p);
  }
  const providers = raw['switchyard.providers'];
  if (Array.isArray(providers)) {
    providers.forEach((item, i) => {
      if (item && typeof item === 'object' && Object.hasOwn(item, 'local') && typeof (item as { local?: unknown }).local !== 'boolean') {
        reasons.push(`switchyard.providers[${i}].local: expected true or false, got ${JSON.stringify((item as { local?: unknown }).local) ?? 'undefined'}`);
      }
    });
  }
  const hosts = raw['switchyard.localHosts'];
  if (hosts !== undefined) {
    if (!Array.isArray(hosts)) reasons.push(`switchyard.localHosts: expected an array of host names, got ${JSON.stringify(hosts)?.slice(0, 60)}`);
    else hosts.forEach((h, i) => {
      if (typeof h !== 'string' || !isHostName(h.trim())) reasons.push(`switchyard.localHosts[${i}]: ${JSON.stringify(h)?.slice(0, 60)} is not a host name (like "gpu-box.lan" or "192.168.1.20")`);
    });
  }
  const optOut = raw['switchyard.workspaceCloudOptOut'];
  if (optOut !== undefined && typeof optOut !== 'boolean') reasons.push(`switchyard.workspaceCloudOptOut: expected true or false, got ${JSON.stringify(optOut)?.slice(0, 60)}`);
  if (reasons.length === 0) return undefined;
  const lock = reasons.join('; ');
  r.problems.push({ key: reasons[0]!.split(/[:[]/)[0]!, message: `${lock} (Switchyard is local-only until this is fixed)` });
  return lock;
}

/** The example every "not a model reference" problem gives. */
const REF_EXAMPLE = '"ollama/qwen2.5-coder:7b"';

/** Edit distance, for "did you mean" (short names only: tasks and provider ids). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The known name closest to `name` when it is close enough to be a typo (case alone, or a few letters). */
export function closest(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = k.toLowerCase() === name.toLowerCase() ? 0 : distance(name.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.min(2, Math.floor(best.length / 3))) ? best : undefined;
}

/**
 * `switchyard.tasks`, entry by entry. Every problem names its full path (`switchyard.tasks.chat[1]`) and says what
 * is wrong in words (never the schema's regex), with a "did you mean" for a close task name or provider id; all of
 * them are reported as one problem, so the user sees one message listing everything to fix.
 */
function parseTasks(rawTasks: unknown, r: Reader, configuredIds: ReadonlySet<string>): Record<TaskName, CandidateSetting[]> {
  const taskSchema = SETTINGS['switchyard.tasks'];
  const taskDefaults = manifestDefault('switchyard.tasks') as Record<TaskName, string[]>;
  const tasks = {} as Record<TaskName, CandidateSetting[]>;
  if (rawTasks !== undefined && (typeof rawTasks !== 'object' || rawTasks === null || Array.isArray(rawTasks))) {
    r.report('switchyard.tasks', validateAgainst(taskSchema, rawTasks, 'switchyard.tasks'), 'using the defaults');
  }
  const taskObj = typeof rawTasks === 'object' && rawTasks !== null && !Array.isArray(rawTasks) ? (rawTasks as Record<string, unknown>) : {};
  const providerIds = new Set([...configuredIds, ...Object.keys(PRESETS), ...LOCAL_DEFAULTS.map((p) => p.id)]);
  const refPattern = new RegExp(taskSchema.properties!.chat!.items!.anyOf![0]!.pattern!);
  const problems: string[] = [];
  const emptied: TaskName[] = [];

  for (const name of Object.keys(taskObj)) {
    if (isTaskName(name)) continue;
    const near = closest(name, TASKS);
    problems.push(`switchyard.tasks.${name}: unknown task "${name}"${near ? `; did you mean "${near}"?` : ''} (tasks: ${TASKS.join(', ')}; ignored)`);
  }
  /**
   * What is wrong with one model reference: `drop` when it can never resolve (not a reference at all), or only a
   * warning (an unknown provider id close to a known one: kept, the router skips it). Undefined when it is fine.
   */
  const refProblem = (ref: unknown, path: string): { message: string; drop: boolean } | undefined => {
    if (typeof ref !== 'string' || !refPattern.test(ref)) {
      const text = JSON.stringify(ref) ?? String(ref);
      const hint =
        typeof ref !== 'string' ? '' : closest(ref, ['auto']) ? '; did you mean "auto"?' : !ref.includes('/') && ref.trim() ? `; write the provider id first, e.g. "ollama/${ref.trim()}"` : '';
      return { message: `${path}: ${text.length > 60 ? `${text.slice(0, 57)}...` : text} is not a model reference like ${REF_EXAMPLE} (or "auto")${hint}`, drop: true };
    }
    const split = splitRef(ref);
    if (split && !providerIds.has(split.providerId)) {
      const near = closest(split.providerId, providerIds);
      if (near) return { message: `${path}: there is no provider "${split.providerId}"; did you mean "${near}/${split.model}"?`, drop: false };
    }
    return undefined;
  };
  for (const task of TASKS) {
    const raw = taskObj[task];
    const entrySchema = taskSchema.properties![task]!.items ?? {};
    if (raw === undefined) {
      tasks[task] = taskDefaults[task].map(normalizeCandidate);
      continue;
    }
    if (!Array.isArray(raw)) {
      problems.push(`switchyard.tasks.${task}: expected a list of models like [${REF_EXAMPLE}], got ${JSON.stringify(raw)?.slice(0, 60)} (using the default)`);
      tasks[task] = taskDefaults[task].map(normalizeCandidate);
      continue;
    }
    const kept: CandidateSetting[] = [];
    let dropped = 0;
    raw.forEach((item, i) => {
      const path = `switchyard.tasks.${task}[${i}]`;
      const isObject = typeof item === 'object' && item !== null && !Array.isArray(item);
      // A reference is checked here, in words; an object's other fields by the schema (no patterns left in them).
      const ref = isObject ? (item as Record<string, unknown>).model : item;
      const wrong =
        isObject && ref === undefined
          ? { message: `${path}: missing "model" (a model reference like ${REF_EXAMPLE})`, drop: true }
          : refProblem(ref, isObject ? `${path}.model` : path);
      const schemaProblems = !wrong?.drop && isObject ? validateAgainst(entrySchema, item, path) : [];
      if (wrong?.drop || schemaProblems.length) {
        problems.push(`${wrong?.drop ? wrong.message : schemaProblems.join('; ')} (ignored)`);
        dropped++;
        return;
      }
      if (wrong) problems.push(wrong.message);
      kept.push(normalizeCandidate(jsonClone(item) as string | { model: string }));
    });
    if (dropped > 0 && kept.length === 0) {
      emptied.push(task);
      if (task === 'embed') problems.push('switchyard.tasks.embed has no valid model left, so the workspace index is keyword-only (no embeddings) until this is fixed');
    }
    tasks[task] = kept;
  }
  if (problems.length) {
    r.problems.push({
      key: 'switchyard.tasks',
      message: problems.length === 1 ? problems[0]! : `switchyard.tasks has ${problems.length} problems: ${problems.map((p, i) => `(${i + 1}) ${p}`).join('; ')}`,
      ...(emptied.length ? { emptiedTasks: emptied } : {}),
    });
  }
  return tasks;
}

export function parseConfig(raw: Raw): ParsedConfig {
  const r = new Reader(raw);
  const lock = privacyLock(raw, r);

  const providers: ProviderSetting[] = [];
  const seen = new Set<string>();
  for (const p of r.entries<ProviderSetting>('switchyard.providers', raw['switchyard.providers']) ?? []) {
    if (seen.has(p.id)) {
      r.report('switchyard.providers', [`switchyard.providers: the id "${p.id}" is used twice`], 'using the first');
      continue;
    }
    if (p.kind === 'embedded' && (p.baseUrl || p.preset)) {
      r.report('switchyard.providers', [`switchyard.providers: "${p.id}" is of kind "embedded", which runs GGUF files itself: give "modelPath" (or nothing, for the models folder), not baseUrl or preset`], 'ignoring that entry');
      continue;
    }
    if (p.kind !== 'embedded' && p.modelPath !== undefined) {
      r.report('switchyard.providers', [`switchyard.providers: "${p.id}": modelPath is for kind "embedded" only`], 'ignoring that entry');
      continue;
    }
    if (p.kind !== 'embedded' && !p.baseUrl && !p.preset) {
      r.report('switchyard.providers', [`switchyard.providers: "${p.id}" needs a baseUrl or a preset`], 'ignoring that entry');
      continue;
    }
    seen.add(p.id);
    providers.push(p);
  }

  const tasks = parseTasks(raw['switchyard.tasks'], r, seen);

  const config: SwitchyardConfig = {
    providers,
    tasks,
    privacy: lock ? 'local-only' : r.value<PrivacyMode>('switchyard.privacy'),
    ...(lock ? { privacyLock: lock } : {}),
    workspaceCloudOptOut: lock ? true : r.value<boolean>('switchyard.workspaceCloudOptOut'),
    localHosts: lock ? [] : r.value<string[]>('switchyard.localHosts').map((h) => h.trim()),
    // Unclear means the safe choice: an invalid value redacts.
    redactSecrets: r.value<RedactMode>('switchyard.redactSecrets'),
    aliases: r.value<Record<string, string>>('switchyard.aliases'),
    firstTokenTimeoutMs: r.value<number>('switchyard.routing.firstTokenTimeoutMs'),
    cooldownMs: r.value<number>('switchyard.routing.cooldownMs'),
    index: {
      enabled: r.value<boolean>('switchyard.index.enabled'),
      exclude: r.value<string[]>('switchyard.index.exclude'),
      maxFileSizeKb: r.value<number>('switchyard.index.maxFileSizeKb'),
    },
    gateway: {
      port: r.value<number>('switchyard.gateway.port'),
      startOnLaunch: r.value<boolean>('switchyard.gateway.startOnLaunch'),
      relay: r.value<boolean>('switchyard.gateway.relay'),
      idleTimeoutSeconds: r.value<number>('switchyard.gateway.idleTimeoutSeconds'),
    },
    usage: { retentionDays: r.value<number>('switchyard.usage.retentionDays') },
    embedded: {
      idleTimeoutSeconds: r.value<number>('switchyard.embedded.idleTimeoutSeconds'),
      maxLoadedModels: r.value<number>('switchyard.embedded.maxLoadedModels'),
      gpu: r.value<'auto' | 'off'>('switchyard.embedded.gpu'),
    },
    completion: {
      enabled: r.value<boolean>('switchyard.completion.enabled'),
      // Unclear means the safe choice: an invalid value keeps cloud completions off.
      allowCloud: r.value<boolean>('switchyard.completion.allowCloud'),
      debounceMs: r.value<number>('switchyard.completion.debounceMs'),
      multiline: r.value<CompletionMultiline>('switchyard.completion.multiline'),
      maxLines: r.value<number>('switchyard.completion.maxLines'),
      maxPrefixTokens: r.value<number>('switchyard.completion.maxPrefixTokens'),
      maxSuffixTokens: r.value<number>('switchyard.completion.maxSuffixTokens'),
      excludeLanguages: r.value<string[]>('switchyard.completion.excludeLanguages'),
    },
  };

  for (const [alias, target] of Object.entries(config.aliases)) {
    if (!isTaskName(target)) {
      r.report('switchyard.aliases', [`switchyard.aliases.${alias}: "${target}" is not a task (tasks: ${TASKS.join(', ')})`], 'ignoring it');
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
