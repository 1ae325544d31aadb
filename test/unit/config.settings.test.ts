import { test } from 'node:test';
import assert from 'node:assert/strict';
import manifest from '../../package.json';
import { SETTING_TYPES, type Setting } from '../../src/core/config/settings';
import type { JsonSchema } from '../../src/core/config/schema';

const props = (manifest as unknown as { contributes: { configuration: { properties: Record<string, JsonSchema> } } }).contributes
  .configuration.properties;
const table = SETTING_TYPES as Readonly<Record<string, Setting<unknown>>>;

test('the typed settings table names every setting package.json declares, and no other', () => {
  assert.deepEqual(Object.keys(table).sort(), Object.keys(props).sort());
});

test("each typed setting has its manifest schema's JSON type, enum and item type", () => {
  for (const [key, schema] of Object.entries(props)) {
    const setting = table[key];
    assert.ok(setting, `${key} is not in SETTING_TYPES`);
    assert.equal(setting.type, schema.type, `${key}: typed as ${setting.type}, declared as ${JSON.stringify(schema.type)}`);
    assert.deepEqual(setting.enum, schema.enum, `${key}: the values in code differ from the manifest's enum`);
    const of =
      setting.type === 'array'
        ? schema.items?.type
        : typeof schema.additionalProperties === 'object'
          ? schema.additionalProperties.type
          : undefined;
    if (setting.of !== undefined)
      assert.equal(of, setting.of, `${key}: its items are typed as ${setting.of}, declared as ${JSON.stringify(of)}`);
    else assert.notEqual(of, 'string', `${key}: declared as holding strings; type it so (of: 'string')`);
  }
});
