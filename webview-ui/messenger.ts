/**
 * The webview side of the envelope (src/protocol/envelope.ts): requests with ids whose replies resolve promises,
 * notifications by name, cancel by request id, and one `ready` once listeners are in place (no polling).
 */
import type { Envelope, Notification, Reply } from '../src/protocol/envelope';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

export class RequestError extends Error {
  constructor(
    readonly kind: string,
    message: string,
  ) {
    super(message);
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export class Messenger<
  Requests extends { [K in keyof Requests]: [unknown, unknown] },
  Notifications extends { [K in keyof Notifications]: unknown },
> {
  private readonly api: VsCodeApi = acquireVsCodeApi();
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private readonly handlers = new Map<string, ((payload: never) => void)[]>();

  constructor() {
    window.addEventListener('message', (event: MessageEvent) => {
      const m = event.data as Envelope;
      if (!m || typeof m !== 'object') return;
      if (m.kind === 'reply') this.onReply(m);
      else if (m.kind === 'notify') this.onNotify(m);
    });
  }

  ready(): void {
    this.api.postMessage({ kind: 'ready' });
  }

  /** Sends a request; `onId` learns its id at once (to cancel it later). */
  request<N extends keyof Requests & string>(name: N, payload: Requests[N][0], onId?: (id: number) => void): Promise<Requests[N][1]> {
    const id = this.nextId++;
    onId?.(id);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.api.postMessage({ kind: 'request', id, name, payload });
    });
  }

  /** The webview's own state, kept by VS Code while the panel is open (across reloads of its page). */
  getState(): unknown {
    return this.api.getState();
  }

  setState(state: unknown): void {
    this.api.setState(state);
  }

  cancel(id: number): void {
    this.api.postMessage({ kind: 'cancel', id });
  }

  on<N extends keyof Notifications & string>(name: N, handler: (payload: Notifications[N]) => void): void {
    const list = this.handlers.get(name) ?? [];
    list.push(handler as (payload: never) => void);
    this.handlers.set(name, list);
  }

  private onReply(m: Reply): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.ok) p.resolve(m.payload);
    else p.reject(new RequestError(m.error.kind, m.error.message));
  }

  private onNotify(m: Notification): void {
    for (const h of this.handlers.get(m.name) ?? []) (h as (p: unknown) => void)(m.payload);
  }
}

/** `h('div', { class: 'x' }, child, 'text')`: small DOM builder; text is always text, never HTML. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | boolean | undefined | ((e: Event) => void)> = {},
  ...children: (Node | string | undefined | false)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  for (const c of children) if (c !== undefined && c !== false) el.append(c);
  return el;
}

export function icon(name: string): HTMLElement {
  return h('span', { class: `codicon codicon-${name}`, 'aria-hidden': 'true' });
}
