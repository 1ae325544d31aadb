/**
 * The gateway inside VS Code: "Switchyard: Start Gateway" / "Stop Gateway" / "Copy Gateway URL and Token", optional
 * start on launch (switchyard.gateway.startOnLaunch), a status bar item while it serves. The token is generated on
 * first start and kept in SecretStorage; it never reaches the log. Requests use the same Switchyard (router,
 * settings, consent, usage) as the editor, read at request time.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { Gateway } from '../../core/gateway/server';
import type { Services } from '../services';
import { registerLanguageModels } from '../lm/provider';

const TOKEN_KEY = 'switchyard.gateway.token';

class GatewayController implements vscode.Disposable {
  private gateway: Gateway | undefined;
  private starting: Promise<Gateway> | undefined;
  private readonly item: vscode.StatusBarItem;

  constructor(private readonly services: Services) {
    this.item = vscode.window.createStatusBarItem('switchyard.gateway', vscode.StatusBarAlignment.Right, 99);
    this.item.name = 'Switchyard Gateway';
    this.item.command = 'switchyard.copyGatewayUrl';
  }

  get url(): string | undefined {
    return this.gateway?.listening ? this.gateway.url : undefined;
  }

  /** The token: SWITCHYARD_GATEWAY_TOKEN when set (as for `switchyard serve`), else generated once and kept in SecretStorage. */
  async token(): Promise<string> {
    const fromEnv = process.env.SWITCHYARD_GATEWAY_TOKEN;
    if (fromEnv && fromEnv.length >= 8) return fromEnv;
    const secrets = this.services.context.secrets;
    let token = await secrets.get(TOKEN_KEY);
    if (!token) {
      token = `sy-${randomBytes(24).toString('base64url')}`;
      await secrets.store(TOKEN_KEY, token);
      this.services.log.info('gateway: generated a new token (kept in SecretStorage)');
    }
    return token;
  }

  async start(): Promise<Gateway> {
    if (this.gateway?.listening) return this.gateway;
    this.starting ??= (async () => {
      const port = this.services.switchyard.config.gateway.port;
      const gateway = new Gateway({ source: this.services.switchyard, token: await this.token(), port, logger: this.services.log });
      await gateway.start();
      this.gateway = gateway;
      this.show();
      return gateway;
    })().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  async stop(): Promise<void> {
    const g = this.gateway;
    this.gateway = undefined;
    this.item.hide();
    await g?.stop();
  }

  private show(): void {
    const g = this.gateway!;
    this.item.text = `$(radio-tower) ${g.port}`;
    this.item.tooltip =
      `Switchyard gateway serving ${g.url} (OpenAI-compatible; models switchyard/<task>). ` + `Click to copy the URL and token.`;
    this.item.show();
  }

  /** Resolves once the server has closed (deactivate() awaits it, so the port is free when the host exits). */
  dispose(): Promise<void> {
    this.item.dispose();
    return this.stop();
  }
}

export function gatewayFeature(services: Services): vscode.Disposable[] {
  const controller = new GatewayController(services);
  const startCommand = async (): Promise<string | undefined> => {
    try {
      const g = await controller.start();
      void vscode.window.showInformationMessage(`Switchyard: gateway serving ${g.url}`, 'Copy URL and Token').then((choice) => {
        if (choice) void vscode.commands.executeCommand('switchyard.copyGatewayUrl');
      });
      return g.url;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      services.log.error(`gateway: ${message}`);
      void vscode.window.showErrorMessage(`Switchyard: the gateway could not start: ${message}`, 'Open Settings').then((choice) => {
        if (choice) void vscode.commands.executeCommand('workbench.action.openSettings', 'switchyard.gateway.port');
      });
      return undefined;
    }
  };
  const disposables: vscode.Disposable[] = [
    controller,
    vscode.commands.registerCommand('switchyard.startGateway', startCommand),
    vscode.commands.registerCommand('switchyard.stopGateway', async () => {
      const was = controller.url;
      await controller.stop();
      void vscode.window.showInformationMessage(was ? 'Switchyard: gateway stopped.' : 'Switchyard: the gateway was not running.');
    }),
    vscode.commands.registerCommand('switchyard.copyGatewayUrl', async () => {
      const url = controller.url;
      if (!url) {
        const choice = await vscode.window.showWarningMessage('Switchyard: the gateway is not running.', 'Start Gateway');
        if (choice) await vscode.commands.executeCommand('switchyard.startGateway');
        return;
      }
      await vscode.env.clipboard.writeText(`OPENAI_BASE_URL=${url}\nOPENAI_API_KEY=${await controller.token()}\n`);
      void vscode.window.showInformationMessage(
        'Switchyard: gateway URL and token copied (as OPENAI_BASE_URL / OPENAI_API_KEY). ' +
          'The token is a secret: paste it only into local tools.',
      );
    }),
    // A changed port applies by restarting a running gateway.
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration('switchyard.gateway.port') || !controller.url) return;
      void controller.stop().then(startCommand);
    }),
    ...registerLanguageModels(services),
  ];
  if (services.switchyard.config.gateway.startOnLaunch) {
    // After activation returns: starting a server is not activation work.
    setTimeout(
      () =>
        void controller
          .start()
          .catch((e: unknown) => services.log.error(`gateway: start on launch failed: ${e instanceof Error ? e.message : String(e)}`)),
      0,
    );
  }
  return disposables;
}
