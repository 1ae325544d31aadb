/**
 * Settings typed by key. package.json `contributes.configuration` declares every `switchyard.*` setting (schema.ts
 * reads it); SETTING_TYPES gives each declared key the type its value has in code. A read names the key and gets that
 * type (`r.value('switchyard.gateway.port')` is a number), so a key that is not declared, or a type other than the
 * declared one, does not compile. `satisfies` makes the table name every declared key and no other; the unit test
 * (test/unit/config.settings.test.ts) checks each entry's JSON type and enum against the manifest's schema.
 */
import type manifest from '../../../package.json';
import { PRIVACY_MODES, type TaskName } from '../../protocol/vocabulary';
import type { CompletionMultiline, ConfigProblem, ProviderSetting, RedactMode } from './config';
import { SETTINGS, manifestDefault, validateAgainst, type JsonSchema } from './schema';

/** A key declared in package.json. */
export type SettingKey = keyof (typeof manifest)['contributes']['configuration']['properties'];

/** How a setting is declared in code: the JSON type (and enum) package.json gives it; T is its value's type. */
export interface Setting<T> {
  readonly type: 'boolean' | 'integer' | 'number' | 'string' | 'array' | 'object';
  /** The values a string setting takes (the manifest's enum, in its order). */
  readonly enum?: readonly T[];
  /** An array's items, or an object's values, when they are strings. */
  readonly of?: 'string';
  /** Never set: carries T. */
  readonly value?: T;
}

/** A task's entry in `switchyard.tasks`: a model reference, or one with parameters. */
export type TaskEntry =
  string | { model: string; temperature?: number; maxTokens?: number; contextSize?: number; tools?: boolean; vision?: boolean };

const boolean: Setting<boolean> = { type: 'boolean' };
const integer: Setting<number> = { type: 'integer' };
const strings: Setting<string[]> = { type: 'array', of: 'string' };
const oneOf = <T extends string>(values: readonly T[]): Setting<T> => ({ type: 'string', enum: values });
/** Entries checked one by one against the item schema (Reader.entries). */
const listOf = <T>(): Setting<T[]> => ({ type: 'array' });
const objectOf = <T>(): Setting<T> => ({ type: 'object' });

export const SETTING_TYPES = {
  'switchyard.providers': listOf<ProviderSetting>(),
  'switchyard.tasks': objectOf<Record<TaskName, TaskEntry[]>>(),
  'switchyard.privacy': oneOf(PRIVACY_MODES),
  'switchyard.workspaceCloudOptOut': boolean,
  'switchyard.redactSecrets': oneOf<RedactMode>(['redact', 'block', 'off']),
  'switchyard.localHosts': strings,
  'switchyard.aliases': { type: 'object', of: 'string' } as Setting<Record<string, string>>,
  'switchyard.routing.firstTokenTimeoutMs': integer,
  'switchyard.routing.cooldownMs': integer,
  'switchyard.embedded.idleTimeoutSeconds': integer,
  'switchyard.embedded.maxLoadedModels': integer,
  'switchyard.embedded.gpu': oneOf(['auto', 'off'] as const),
  'switchyard.index.enabled': boolean,
  'switchyard.index.exclude': strings,
  'switchyard.index.maxFileSizeKb': integer,
  'switchyard.gateway.port': integer,
  'switchyard.gateway.startOnLaunch': boolean,
  'switchyard.gateway.relay': boolean,
  'switchyard.gateway.idleTimeoutSeconds': integer,
  'switchyard.usage.retentionDays': integer,
  'switchyard.completion.enabled': boolean,
  'switchyard.completion.allowCloud': boolean,
  'switchyard.completion.debounceMs': integer,
  'switchyard.completion.multiline': oneOf<CompletionMultiline>(['auto', 'always', 'never']),
  'switchyard.completion.maxLines': integer,
  'switchyard.completion.maxPrefixTokens': integer,
  'switchyard.completion.maxSuffixTokens': integer,
  'switchyard.completion.excludeLanguages': strings,
} as const satisfies { readonly [K in SettingKey]: Setting<unknown> };

/** The type of a setting's value in code. */
export type SettingValue<K extends SettingKey> = (typeof SETTING_TYPES)[K] extends Setting<infer T> ? T : never;

/** The manifest's default of a setting, deep-copied so callers may mutate it. */
export function settingDefault<K extends SettingKey>(key: K): SettingValue<K> {
  return manifestDefault(key) as SettingValue<K>;
}

/**
 * Settings are JSON. A JSON round trip also copies values that structuredClone refuses, such as the read-only
 * proxies VS Code's configuration API returns.
 */
export function jsonClone(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

/** Reads settings from raw values (settings.json, the CLI's --config), collecting a problem per invalid one. */
export class Reader {
  readonly problems: ConfigProblem[] = [];
  constructor(private readonly raw: Readonly<Record<string, unknown>>) {}

  /** A whole-value setting: invalid → the manifest default, with a problem. */
  value<K extends SettingKey>(key: K): SettingValue<K> {
    const schema = SETTINGS[key]!;
    const value = this.raw[key];
    if (value === undefined) return settingDefault(key);
    const problems = validateAgainst(schema, value, key);
    if (problems.length === 0) return jsonClone(value) as SettingValue<K>;
    this.report(key, problems, 'using the default');
    return settingDefault(key);
  }

  /** An array setting whose entries are checked one by one: invalid entries are dropped. */
  entries<K extends SettingKey>(key: K, raw: unknown, schema: JsonSchema = SETTINGS[key]!): SettingValue<K> | undefined {
    if (raw === undefined) return undefined;
    if (!Array.isArray(raw)) {
      this.report(key, validateAgainst(schema, raw, key), 'ignoring it');
      return undefined;
    }
    const out: unknown[] = [];
    raw.forEach((item, i) => {
      const problems = validateAgainst(schema.items ?? {}, item, `${key}[${i}]`);
      if (problems.length === 0) out.push(jsonClone(item));
      else this.report(key, problems, 'ignoring that entry');
    });
    return out as SettingValue<K>;
  }

  report(key: string, problems: string[], consequence: string): void {
    this.problems.push({ key, message: `${problems.join('; ')} (${consequence})` });
  }
}
