/**
 * The host side of a webview's protocol (src/protocol/envelope.ts), one for the chat view, the settings panel and the
 * usage view: every message the webview posts is checked (envelope, known request name, payload shape) before
 * anything acts on it, each request goes to the one handler registered for its name with `on`, and its result or
 * failure goes back as the reply. `ready` and `cancel` go to the owner's callbacks. No `vscode` at run time (the
 * webview is anything with postMessage and onDidReceiveMessage), so unit tests reach it.
 */
import type { Disposable } from '../../core/lifecycle';
import { isProviderError } from '../../core/errors';
import type { Notification, Reply } from '../../protocol/envelope';
import { checkEnvelope, type Shapes } from './validate';

/** A protocol's requests: name → [payload, reply payload] (ChatRequests, SettingsRequests, UsageRequests). */
type RequestMap<R> = { [K in keyof R]: [unknown, unknown] };

type Name<R> = keyof R & string;
type Payload<R extends RequestMap<R>, N extends Name<R>> = R[N][0];
type Result<R extends RequestMap<R>, N extends Name<R>> = R[N][1];

/** A request's handler: its reply payload, or a throw that becomes a failed reply. */
type RequestHandler<R extends RequestMap<R>, N extends Name<R>> = (
  payload: Payload<R, N>,
  request: { id: number },
) => Result<R, N> | PromiseLike<Result<R, N>>;

/** One notification of the protocol, as a value (`{ kind: 'notify', name, payload }`). */
type NotificationOf<No> = { [N in keyof No & string]: Notification<N, No[N]> }[keyof No & string];

/** What of a vscode.Webview the host uses. */
export interface WebviewPort {
  postMessage(message: unknown): PromiseLike<boolean>;
  onDidReceiveMessage(listener: (message: unknown) => unknown): Disposable;
}

interface WebviewHostOptions<R> {
  /** Every request name's payload shape (a name without one does not compile). */
  shapes: Shapes<Name<R>>;
  /** Names the webview in the log ("chat view"). */
  label: string;
  log: { warn(message: string): void };
  /** The webview can receive: send it its state. */
  onReady(): void;
  onCancel?(id: number): void;
  /** After a failed reply was sent (a view with no place of its own to show a failure tells the user here). */
  onFailure?(name: Name<R>, message: string): void;
}

export class WebviewHost<R extends RequestMap<R>, No, Handled extends string = never> implements Disposable {
  private readonly handlers = new Map<string, RequestHandler<R, Name<R>>>();
  private subscription: Disposable | undefined;

  constructor(
    private readonly webview: WebviewPort,
    private readonly options: WebviewHostOptions<R>,
  ) {}

  /** Registers the handler of one request name; each name has one. */
  on<N extends Exclude<Name<R>, Handled>>(name: N, handler: RequestHandler<R, N>): WebviewHost<R, No, Handled | N> {
    this.handlers.set(name, handler as unknown as RequestHandler<R, Name<R>>);
    return this as unknown as WebviewHost<R, No, Handled | N>;
  }

  /**
   * Starts taking messages. Compiles only once every request name has its handler (a missing one is named in the
   * error: "Expected 1 arguments", `missing: "chat/new"`).
   */
  listen(...missing: [Exclude<Name<R>, Handled>] extends [never] ? [] : [missing: Exclude<Name<R>, Handled>]): WebviewHost<R, No, Name<R>> {
    void missing;
    this.subscription ??= this.webview.onDidReceiveMessage((m) => this.receive(m));
    return this as unknown as WebviewHost<R, No, Name<R>>;
  }

  notify<N extends keyof No & string>(name: N, payload: No[N]): void {
    this.post({ kind: 'notify', name, payload } as NotificationOf<No>);
  }

  post(message: NotificationOf<No> | Reply): void {
    void this.webview.postMessage(message);
  }

  dispose(): void {
    this.subscription?.dispose();
    this.subscription = undefined;
  }

  /** One message from the webview; resolves once its reply is posted (tests await it). */
  receive(raw: unknown): Promise<void> {
    const checked = checkEnvelope(raw, this.options.shapes);
    if (!checked.ok) {
      this.options.log.warn(`${this.options.label}: ignored an invalid message (${checked.reason})`);
      return Promise.resolve();
    }
    const m = checked.message;
    if (m.kind === 'ready') this.options.onReady();
    else if (m.kind === 'cancel') this.options.onCancel?.(m.id);
    else return this.run(m.id, m.name as Name<R>, m.payload);
    return Promise.resolve();
  }

  private async run(id: number, name: Name<R>, payload: unknown): Promise<void> {
    const handler = this.handlers.get(name);
    try {
      if (!handler) throw new Error(`no handler for ${name}`);
      const result = await handler(payload as Payload<R, Name<R>>, { id });
      this.post({ kind: 'reply', id, ok: true, payload: result ?? null });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.post({ kind: 'reply', id, ok: false, error: { kind: isProviderError(e) ? e.kind : 'error', message } });
      this.options.onFailure?.(name, message);
    }
  }
}
