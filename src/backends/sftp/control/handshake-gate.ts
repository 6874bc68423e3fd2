import type { RetryPolicy } from './retry-policy';

/**
 * At most `limit` SSH handshakes in flight per server. OpenSSH's sshd drops new
 * unauthenticated connections at random once 10 are in flight (MaxStartups 10:30:100), so a
 * burst of mounts (an engine restart with many containers, a Swarm node taking tasks) would
 * lose some of them; queued here they all get through. A connection counts from its start
 * until it is authenticated and serving.
 */
export class HandshakeGate {
  private readonly inFlight = new Map<string, number>();
  private readonly waiting = new Map<string, (() => void)[]>();

  constructor(readonly limit = 8) {}

  /**
   * Runs `work` through the gate until it succeeds, `retry` says not to try again (its
   * wait in ms, or undefined), or the wait would pass `deadline`; the last error then goes
   * through `giveUp` with the number of attempts and whether time ran out.
   */
  async runRetrying<T>(server: string, deadline: number, work: () => Promise<T>, policy: RetryPolicy): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.run(server, work);
      } catch (error) {
        const wait = policy.retry(error, attempt);
        if (wait === undefined) throw policy.giveUp(error, attempt, false);
        if (Date.now() + wait > deadline) throw policy.giveUp(error, attempt, true);
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  async run<T>(server: string, work: () => Promise<T>): Promise<T> {
    await this.enter(server);
    try {
      return await work();
    } finally {
      this.leave(server);
    }
  }

  private async enter(server: string): Promise<void> {
    const count = this.inFlight.get(server) ?? 0;
    if (count < this.limit) {
      this.inFlight.set(server, count + 1);
      return;
    }
    // The slot is handed over by leave(): the count stays the same.
    await new Promise<void>((resolve) => {
      const queue = this.waiting.get(server) ?? [];
      queue.push(resolve);
      this.waiting.set(server, queue);
    });
  }

  private leave(server: string): void {
    const queue = this.waiting.get(server);
    const next = queue?.shift();
    if (queue?.length === 0) this.waiting.delete(server);
    if (next !== undefined) {
      next();
      return;
    }
    const count = (this.inFlight.get(server) ?? 1) - 1;
    if (count === 0) this.inFlight.delete(server);
    else this.inFlight.set(server, count);
  }
}

/**
 * What sshd's refusal of a connection beyond MaxStartups looks like from the client: ssh's
 * words, or ssh2's. Not a bare "Connection reset by peer": sshfs prints "read: Connection
 * reset by peer" after every failed ssh, so a server that is down (connection refused)
 * would be tried again for the whole connect timeout.
 */
export const isRefusedHandshake = (message: string): boolean =>
  /exchange_identification|banner exchange|Connection closed by remote host|Connection reset by \S+ port|lost before handshake/i.test(message);

/** Backoff before attempt `attempt` (2, 3, ...): doubling from 100 ms, capped at 2 s, with ±50% jitter. */
export const handshakeBackoffMs = (attempt: number): number => Math.min(2000, 100 * 2 ** (attempt - 2)) * (0.5 + Math.random());
