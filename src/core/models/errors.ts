/**
 * Typed failures of the model manager. Adapters (CLI, VS Code) turn a kind into words and an action; nothing
 * branches on message text.
 */
export type ModelErrorKind =
  /** The server could not be reached or the connection failed (a download stays resumable). */
  | 'unreachable'
  /** The server answered with an error status. */
  | 'http'
  /** Not enough free disk space for the file: refused before writing. */
  | 'diskFull'
  /** The file's sha256 is not the expected one: the file was removed. */
  | 'checksum'
  /** The user canceled. */
  | 'canceled'
  /** The model (or file) is not there. */
  | 'notFound'
  /** A bad URL, name or argument. */
  | 'invalid'
  /** The server reported a failure (e.g. Ollama's pull stream). */
  | 'server';

export class ModelError extends Error {
  constructor(
    readonly kind: ModelErrorKind,
    message: string,
    readonly details: { status?: number; resumable?: boolean; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'ModelError';
  }
}

export function isModelError(e: unknown): e is ModelError {
  return e instanceof ModelError;
}
