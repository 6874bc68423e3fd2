/**
 * Every failure the plugin reports has a stable `code`. The protocol layer turns any of
 * them into the `{"Err": message}` reply in one place (protocol/error-reply.ts) and logs the
 * code with the call; the message is shown to the user verbatim by `docker`, so it says
 * what went wrong and what to do.
 */
export type ErrorCode =
  | 'BAD_REQUEST'
  | 'BAD_NAME'
  | 'BAD_OPTION'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'IN_USE'
  | 'NOT_MOUNTED'
  | 'BACKEND_FAILED'
  | 'REMOTE_UNREACHABLE'
  | 'REMOTE_AUTH'
  | 'REMOTE_HOSTKEY'
  | 'REMOTE_PERMISSION'
  | 'STORE_FAILED'
  | 'STATE_UNREADABLE'
  | 'STATE_WRITE'
  | 'CONFIG'
  | 'INTERNAL';

export class PluginError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PluginError';
    this.code = code;
  }
}

export const isPluginError = (error: unknown): error is PluginError => error instanceof PluginError;

/** A short description of any thrown value, for logs and wrapped messages. */
export function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
