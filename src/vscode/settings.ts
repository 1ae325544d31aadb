/**
 * Reads the `switchyard.*` settings into the core's typed config. settings.json is the single source of truth:
 * every key comes from the manifest's list, and problems are reported once each, naming the key.
 */
import * as vscode from 'vscode';
import { parseConfig, type ParsedConfig } from '../core/config/config';
import { SETTING_KEYS } from '../core/config/schema';
import type { SettingKey, SettingValue } from '../core/config/settings';

export function readSettings(): ParsedConfig {
  const cfg = vscode.workspace.getConfiguration();
  const raw: Record<string, unknown> = {};
  for (const key of SETTING_KEYS) {
    // get() applies VS Code's scope rules: application-scoped keys (providers, privacy) ignore workspace values.
    const value = cfg.get(key);
    if (value !== undefined) raw[key] = value;
  }
  return parseConfig(raw);
}

/** A setting's value in each scope (default, user, workspace, folder), typed by its key. */
export function inspectSetting<K extends SettingKey>(key: K) {
  return vscode.workspace.getConfiguration().inspect<SettingValue<K>>(key);
}

/** Writes a setting in one scope (undefined removes it there), typed by its key. */
export function updateSetting<K extends SettingKey>(
  key: K,
  value: SettingValue<K> | undefined,
  target: vscode.ConfigurationTarget,
): Thenable<void> {
  return vscode.workspace.getConfiguration().update(key, value, target);
}

/** True when any scope (user, workspace, folder) opts this workspace out of cloud use. */
export function workspaceOptedOut(): boolean {
  const i = inspectSetting('switchyard.workspaceCloudOptOut');
  return [i?.globalValue, i?.workspaceValue, i?.workspaceFolderValue].some((v) => v === true);
}
