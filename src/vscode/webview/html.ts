/**
 * The one HTML shell of Switchyard's webviews: a strict CSP (default-src 'none', scripts only by a fresh nonce, styles
 * and fonts only from the extension's dist/webview folder, images only from there or data:), no inline state: the
 * script asks for its state with `ready`.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return { enableScripts: true, enableCommandUris: false, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview')] };
}

function nonce(): string {
  return randomBytes(18).toString('base64');
}

/** `name` is the bundle: dist/webview/<name>.main.js and its .css. */
export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, name: string, title: string): string {
  const n = nonce();
  const asset = (file: string) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', file)).toString();
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${n}'`,
    `style-src ${webview.cspSource}`,
    `font-src ${webview.cspSource}`,
    `img-src ${webview.cspSource} data:`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${asset(`${name}.main.css`)}">
<title>${title}</title>
</head>
<body>
<div id="app" data-view="${name}"></div>
<script nonce="${n}" src="${asset(`${name}.main.js`)}"></script>
</body>
</html>`;
}
