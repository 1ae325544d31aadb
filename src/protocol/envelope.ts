/**
 * The envelope every webview message travels in, shared by the extension host and webview-ui (types only).
 * Each webview's own protocol file maps message names (`domain/verb`) to payloads on top of these shapes:
 * the webview posts `ready` once it can receive; requests carry an id that the reply echoes; streams are
 * chunks followed by one `done`; cancellation is a message naming the request id.
 */
export interface Request<Name extends string = string, Payload = unknown> {
  kind: 'request';
  id: number;
  name: Name;
  payload: Payload;
}

export type Reply<Payload = unknown> =
  | { kind: 'reply'; id: number; ok: true; payload: Payload }
  | { kind: 'reply'; id: number; ok: false; error: { kind: string; message: string } };

export interface Notification<Name extends string = string, Payload = unknown> {
  kind: 'notify';
  name: Name;
  payload: Payload;
}

export interface Ready {
  kind: 'ready';
}

export interface Cancel {
  kind: 'cancel';
  id: number;
}

export type Envelope = Request | Reply | Notification | Ready | Cancel;
