import { isPluginError, type ErrorCode } from '../errors';
import type { ErrReply } from './wire';

// Protocol faults get an HTTP error status; volume errors travel as 200 + Err, which the
// engine shows verbatim (a non-200 makes it prefix the message with plugin internals).
const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = { BAD_REQUEST: 400, INTERNAL: 500 };

/**
 * The one place where any thrown value becomes the engine's `{"Err"}` reply. A value that
 * is no PluginError is a bug of ours: it is coded INTERNAL and says so.
 */
export function errorReply(error: unknown): { status: number; code: ErrorCode; body: ErrReply } {
  if (isPluginError(error)) return { status: STATUS_BY_CODE[error.code] ?? 200, code: error.code, body: { Err: error.message } };
  const message = error instanceof Error ? error.message : String(error);
  return {
    status: 500,
    code: 'INTERNAL',
    body: { Err: `internal error in the volume plugin: ${message}; please report it with the plugin's log (docker plugin inspect shows its ID)` },
  };
}
