/** When a failed connection attempt is tried again, and what the caller is told when not. */
export interface RetryPolicy {
  /** The wait before attempt `attempt + 1`, or undefined to give up now. */
  retry(error: unknown, attempt: number): number | undefined;
  /** The error to throw after `attempts` tries; `outOfTime`: a retry was wanted, the deadline forbade it. */
  giveUp(error: unknown, attempts: number, outOfTime: boolean): Error;
}
