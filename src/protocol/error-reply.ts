import { isPluginError, type ErrorCode } from '../errors';
import type { ErrReply } from './wire';

// Protocol faults get an HTTP error status; volume errors travel as 200 + Err, which the
// engine shows verbatim (a non-200 makes it prefix the message with plugin internals).
const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = { BAD_REQUEST: 400 };

/** The one place where any thrown value becomes the engine's `{"Err"}` reply. */
export function errorReply(error: unknown): { status: number; body: ErrReply } {
  if (isPluginError(error)) return { status: STATUS_BY_CODE[error.code] ?? 200, body: { Err: error.message } };
  const message = error instanceof Error ? error.message : String(error);
  return { status: 500, body: { Err: `internal error in the volume plugin: ${message}` } };
}
