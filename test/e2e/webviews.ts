// Helpers for Switchyard's webviews in code-server: find a webview's inner frame by its bundle name (each webview is
// two nested iframes; the inner document's #app carries data-view), open the chat view, edit user settings on disk.
import fs from 'node:fs';
import path from 'node:path';
import type { Frame, Page } from 'playwright-core';
import { t, waitFor, type VSCode } from './harness';

export async function webviewFrame(page: Page, view: 'chat' | 'settings' | 'usage', timeoutMs = t(30_000)): Promise<Frame> {
  return waitFor(
    `the ${view} webview`,
    async () => {
      for (const f of page.frames()) {
        try {
          if ((await f.locator(`[data-view="${view}"]`).count()) > 0) return f;
        } catch {
          /* frame navigating or gone */
        }
      }
      return undefined;
    },
    timeoutMs,
    250,
  );
}

/** Shows the Switchyard container's chat view (activity bar), returns its frame once the UI has rendered. */
export async function openChat(vs: VSCode): Promise<Frame> {
  const item = vs.page
    .locator('.activitybar .action-item a[aria-label^="Switchyard"], .activitybar .action-item[aria-label^="Switchyard"]')
    .first();
  const active = vs.page.locator(
    '.activitybar .action-item.checked a[aria-label^="Switchyard"], .activitybar .action-item.checked[aria-label^="Switchyard"]',
  );
  const deadline = Date.now() + t(60_000);
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    const shown = await webviewFrame(vs.page, 'chat', t(4000)).catch(() => undefined);
    if (
      shown &&
      (await shown
        .locator('#prompt')
        .isVisible()
        .catch(() => false))
    )
      return shown;
    // Clicking the container's icon while it is showing would close the side bar: click only when it is not checked,
    // or every other attempt when the view stays blank (a restored but hidden side bar after a reload).
    if ((await active.count()) === 0 || attempt % 2 === 1) await item.click().catch(() => {});
  }
  throw new Error('the Switchyard chat view did not show');
}

export function userSettingsPath(vs: VSCode): string {
  return path.join(vs.userDataDir, 'User', 'settings.json');
}

export function readUserSettings(vs: VSCode): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(userSettingsPath(vs), 'utf8')) as Record<string, unknown>;
}

/**
 * A hand edit of settings.json in the editor: open it (to the side, so a webview panel stays visible), replace its
 * text through the clipboard, save, close. (code-server here does not notice writes to the file from outside.)
 */
export async function editUserSettings(vs: VSCode, edit: (s: Record<string, unknown>) => void): Promise<void> {
  const s = readUserSettings(vs);
  edit(s);
  const text = JSON.stringify(s, null, 2);
  await vs.page
    .context()
    .grantPermissions(['clipboard-read', 'clipboard-write'])
    .catch(() => {});
  await vs.runCommand('Preferences: Open User Settings (JSON)');
  // VS Code 1.139 may show it as a modal editor over the workbench: find it by its content.
  const editor = vs.page.locator('.monaco-editor', { hasText: 'workbench.startupEditor' }).last();
  await waitFor(
    'settings.json in an editor',
    async () => {
      if (await editor.isVisible().catch(() => false)) return true;
      // Monaco renders only the lines in view, and a reopened editor keeps its scroll position: one left scrolled down
      // by an earlier edit shows none of the first lines. Go to the top of the focused editor (settings.json, once open).
      const focused = vs.page.locator('.monaco-editor.focused');
      if ((await focused.count()) === 0) {
        // Not focused yet: settings.json is the editor showing Switchyard's keys.
        const shown = vs.page.locator('.monaco-editor', { hasText: '"switchyard.' }).last();
        if (await shown.isVisible().catch(() => false)) await shown.locator('.view-lines').click();
      }
      if ((await focused.count()) > 0) await vs.page.keyboard.press('Control+Home');
      return undefined;
    },
    t(15_000),
    250,
  );
  await vs.page.evaluate(
    (t) =>
      (globalThis as unknown as { navigator: { clipboard: { writeText(s: string): Promise<void> } } }).navigator.clipboard.writeText(t),
    text,
  );
  await editor.locator('.view-lines').click();
  await vs.page.keyboard.press('Control+A');
  await vs.page.keyboard.press('Control+V');
  await vs.page.keyboard.press('Control+S');
  await waitFor(
    'settings.json saved',
    () => fs.readFileSync(userSettingsPath(vs), 'utf8').trim() === text.trim() || undefined,
    t(15_000),
    100,
  );
  await vs.page.keyboard.press('Control+W');
  // Closed: the editor leaves the DOM. Still shown after that (a modal editor that kept its frame): Escape.
  await editor.waitFor({ state: 'hidden', timeout: t(5000) }).catch(() => {});
  if (await editor.isVisible().catch(() => false)) await vs.page.keyboard.press('Escape');
}

/** Sends a chat message from the view's input box; returns the new assistant turn's locator. */
export async function sendChat(frame: Frame, text: string) {
  const before = await frame.locator('.turn.assistant').count();
  await frame.locator('#prompt').fill(text);
  await frame.locator('#prompt').press('Enter');
  await waitFor('a new assistant turn', async () => (await frame.locator('.turn.assistant').count()) > before, t(20_000), 100);
  return frame.locator('.turn.assistant').nth(before);
}
