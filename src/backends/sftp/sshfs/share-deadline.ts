/**
 * When a call that needs a share was sent, and when its work must have ended: in time to
 * answer within connect_timeout + 5 s, whatever it waited for (an earlier call on its
 * volume, a share starting), well before the engine gives up on it. Date.now() ms.
 */
export interface ShareDeadline {
  readonly sentAt: number;
  readonly by: number;
}

/** Kept from a call's time to undo what it did and answer. */
const ANSWER_MS = 500;

export function shareDeadline(connectTimeoutSeconds: number, queuedMs = 0): ShareDeadline {
  const sentAt = Date.now() - Math.round(queuedMs);
  return { sentAt, by: sentAt + (connectTimeoutSeconds + 5) * 1000 - ANSWER_MS };
}

/** Milliseconds left before the deadline; negative once it has passed. */
export const msLeft = (deadline: ShareDeadline): number => deadline.by - Date.now();
