/**
 * The settings schema is declared once, in package.json `contributes.configuration`. This module reads it, so
 * defaults and validation in code cannot drift from the manifest. It implements the small JSON-schema subset the
 * manifest uses (type, enum, pattern, required, additionalProperties, properties, items, anyOf, minimum, maximum).
 */
import manifest from '../../../package.json';

export interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  pattern?: string;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  default?: unknown;
  scope?: string;
  markdownDescription?: string;
  description?: string;
}

export const SETTINGS: Readonly<Record<string, JsonSchema>> = (
  manifest as unknown as { contributes: { configuration: { properties: Record<string, JsonSchema> } } }
).contributes.configuration.properties;

export const SETTING_KEYS: readonly string[] = Object.keys(SETTINGS);

/** The manifest's default for a key, deep-copied so callers may mutate it. */
export function manifestDefault(key: string): unknown {
  const schema = SETTINGS[key];
  if (!schema) throw new Error(`unknown setting ${key}`);
  return schema.default === undefined ? undefined : JSON.parse(JSON.stringify(schema.default));
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function typeMatches(expected: string, actual: string): boolean {
  return expected === actual || (expected === 'number' && actual === 'integer');
}

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * Checks a value against a schema. Returns the problems as "path: what is wrong"; empty when valid.
 */
export function validateAgainst(schema: JsonSchema, value: unknown, path: string): string[] {
  if (schema.anyOf) {
    const results = schema.anyOf.map((s) => validateAgainst(s, value, path));
    if (results.some((r) => r.length === 0)) return [];
    // Report the branch whose type matched, if any: it is the one the user meant.
    const typed = schema.anyOf.findIndex((s) => s.type === undefined || [s.type].flat().some((t) => typeMatches(t, typeOf(value))));
    return typed >= 0 ? results[typed] : [`${path}: ${describe(value)} is not a valid entry`];
  }
  const actual = typeOf(value);
  if (schema.type !== undefined) {
    const expected = [schema.type].flat();
    if (!expected.some((t) => typeMatches(t, actual))) {
      return [`${path}: expected ${expected.join(' or ')}, got ${actual} ${describe(value)}`];
    }
  }
  if (schema.enum && !schema.enum.some((e) => e === value)) {
    return [`${path}: ${describe(value)} is not one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}`];
  }
  const problems: string[] = [];
  if (typeof value === 'string' && schema.pattern && !new RegExp(schema.pattern).test(value)) {
    problems.push(`${path}: ${describe(value)} is not of the form ${schema.pattern}`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) problems.push(`${path}: ${value} is below the minimum ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) problems.push(`${path}: ${value} is above the maximum ${schema.maximum}`);
  }
  if (actual === 'array' && schema.items) {
    (value as unknown[]).forEach((item, i) => problems.push(...validateAgainst(schema.items!, item, `${path}[${i}]`)));
  }
  if (actual === 'object') {
    const obj = value as Record<string, unknown>;
    for (const req of schema.required ?? []) {
      if (!(req in obj)) problems.push(`${path}: missing "${req}"`);
    }
    for (const [k, v] of Object.entries(obj)) {
      const sub = schema.properties?.[k];
      if (sub) problems.push(...validateAgainst(sub, v, `${path}.${k}`));
      else if (schema.additionalProperties === false) problems.push(`${path}: unknown property "${k}"`);
      else if (typeof schema.additionalProperties === 'object')
        problems.push(...validateAgainst(schema.additionalProperties, v, `${path}.${k}`));
    }
  }
  return problems;
}
