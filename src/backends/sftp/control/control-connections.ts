import type { SFTPWrapper } from 'ssh2';
import type SftpClient from 'ssh2-sftp-client';
import { describe, PluginError } from '../../../errors';
import { KeyedMutex } from '../../../common/keyed-mutex';
import { fingerprintOf, hostKeyFromBlob, knownHostsTrust, sameFingerprint, type HostKey } from './host-keys';
import { handshakeBackoffMs, HandshakeGate, isRefusedHandshake } from './handshake-gate';
import type { HostTrust } from './host-trust';
import { connectError, isTransient, type Target } from './remote-errors';
import { readPassword, readSecretFile } from './secret-files';

/** A server login for control work, and how its host key is trusted. */
export interface ControlTarget extends Target {
  identityFile: string | undefined;
  passwordFile: string | undefined;
  trust: HostTrust;
  connectTimeoutSeconds: number;
}

export interface Connected {
  client: SftpClient;
  /** The raw SFTP channel, for OpenSSH extensions the client does not wrap (statvfs). */
  sftp: SFTPWrapper;
  hostKey: HostKey;
}

const RETRY_BACKOFF_MS = 1000;

// Loaded on the first SFTP connection: ssh2 costs about 14 MB that local-only hosts never need.
let clientClass: typeof SftpClient | undefined;
const sftpClientClass = (): typeof SftpClient => (clientClass ??= require('ssh2-sftp-client') as typeof SftpClient);
const IDLE_CLOSE_MS = 30_000;

/**
 * The control path (ssh2-sftp-client): login, host-key check, mkdir, stat, usage, delete.
 * Connections are reused per server and credentials for a short while, so a second
 * Create on a busy server costs no new handshake; one operation runs on a connection at
 * a time, as the library requires. With `perLogin` above one (the store catalogue's), work
 * queues on the open connections and another one is opened, up to `perLogin`, only when
 * every open one has a queue: a handshake costs more than a short wait.
 */
export class ControlConnections {
  private readonly lock = new KeyedMutex();
  private readonly open = new Map<string, { connected: Connected; timer: NodeJS.Timeout }>();
  /** Work queued or running per connection slot ("login key#n"). */
  private readonly queued = new Map<string, number>();

  /** `gate` bounds handshakes per server, shared with the sshfs mounts of the same backend. */
  constructor(
    private readonly gate: HandshakeGate = new HandshakeGate(),
    /** Connections per server and login at most. */
    private readonly perLogin = 1,
  ) {}

  async with<T>(target: ControlTarget, work: (connected: Connected) => Promise<T>): Promise<T> {
    const key = this.slotFor(JSON.stringify([target.host, target.port, target.user, target.identityFile, target.passwordFile, target.trust.label]));
    this.queued.set(key, (this.queued.get(key) ?? 0) + 1);
    try {
      return await this.runOn(key, target, work);
    } finally {
      const left = (this.queued.get(key) ?? 1) - 1;
      if (left === 0) this.queued.delete(key);
      else this.queued.set(key, left);
    }
  }

  /** Connections opened so far for work on this login, and work queued on them, for tests. */
  slots(): Array<{ slot: string; open: boolean; queued: number }> {
    const keys = new Set([...this.open.keys(), ...this.queued.keys()]);
    return [...keys].sort().map((slot) => ({ slot, open: this.open.has(slot), queued: this.queued.get(slot) ?? 0 }));
  }

  /** The slot with the shortest queue, an open one before a new one: a new connection only when every open one is busy with more than its current call. */
  private slotFor(login: string): string {
    let best: { slot: string; load: number } | undefined;
    for (let index = 0; index < this.perLogin; index += 1) {
      const slot = `${login}#${index}`;
      const queued = this.queued.get(slot) ?? 0;
      // A closed slot counts as busier by one: the handshake.
      const load = this.open.has(slot) || index === 0 ? queued : queued + 1.5;
      if (best === undefined || load < best.load) best = { slot, load };
    }
    return best?.slot ?? `${login}#0`;
  }

  private runOn<T>(key: string, target: ControlTarget, work: (connected: Connected) => Promise<T>): Promise<T> {
    return this.lock.run(key, async () => {
      let entry = this.open.get(key);
      if (entry !== undefined) clearTimeout(entry.timer);
      const connected = entry?.connected ?? (await connectWithRetry(target, this.gate, () => this.forget(key)));
      try {
        const result = await work(connected);
        entry = { connected, timer: setTimeout(() => void this.drop(key), IDLE_CLOSE_MS) };
        entry.timer.unref();
        this.open.set(key, entry);
        return result;
      } catch (error) {
        this.open.delete(key);
        await closeQuietly(connected.client);
        throw error;
      }
    });
  }

  /** A pooled connection the server closed is not reused. */
  private forget(key: string): void {
    const entry = this.open.get(key);
    if (entry === undefined) return;
    clearTimeout(entry.timer);
    this.open.delete(key);
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.open.keys()].map((key) => this.drop(key)));
  }

  private async drop(key: string): Promise<void> {
    const entry = this.open.get(key);
    if (entry === undefined) return;
    this.open.delete(key);
    clearTimeout(entry.timer);
    await closeQuietly(entry.connected.client);
  }
}

/**
 * Connects with a timeout; a transient failure gets one retry after a second, and a
 * handshake the server refused (too many at once) further retries with backoff and jitter
 * for as long as the connect timeout allows.
 */
function connectWithRetry(target: ControlTarget, gate: HandshakeGate, onClosed: () => void): Promise<Connected> {
  return gate.runRetrying(`${target.host}:${target.port}`, Date.now() + target.connectTimeoutSeconds * 1000, () => connectOnce(target, onClosed), {
    retry: (error, attempt) => {
      if (error instanceof PluginError || !isTransient(error)) return undefined;
      if (isRefusedHandshake(describe(error))) return handshakeBackoffMs(attempt + 1);
      return attempt === 1 ? RETRY_BACKOFF_MS : undefined;
    },
    giveUp: (error, attempts) => wrap(error, target, attempts),
  });
}

function wrap(error: unknown, target: ControlTarget, attempts = 1): PluginError {
  if (error instanceof PluginError) return error;
  const wrapped = connectError(error, target, target.connectTimeoutSeconds);
  if (attempts === 1) return wrapped;
  return new PluginError(wrapped.code, `${wrapped.message} (tried ${attempts} times)`, { cause: error });
}

async function connectOnce(target: ControlTarget, onClosed: () => void): Promise<Connected> {
  // The library's default listeners print plain text to stdout, among our JSON lines.
  const client = new (sftpClientClass())('docker-volume-sftp', { error: onClosed, end: onClosed, close: onClosed });
  disableNagle(client);
  // Filled by the verifier during the handshake.
  const seen: { key?: HostKey; verdict: 'trusted' | 'revoked' | 'unknown' } = { verdict: 'unknown' };
  const secrets = await readSecrets(target);
  let sftp: SFTPWrapper;
  try {
    sftp = await client.connect({
      host: target.host,
      port: target.port,
      username: target.user,
      ...secrets,
      readyTimeout: target.connectTimeoutSeconds * 1000,
      keepaliveInterval: 10_000,
      hostVerifier: (blob: Buffer) => {
        seen.key = hostKeyFromBlob(blob);
        seen.verdict = judge(target, seen.key);
        return seen.verdict === 'trusted';
      },
    });
  } catch (error) {
    await closeQuietly(client);
    if (seen.key !== undefined && seen.verdict !== 'trusted') throw hostKeyError(target, seen.key, seen.verdict);
    throw error;
  }
  if (seen.key === undefined) throw new PluginError('REMOTE_HOSTKEY', `${target.host}:${target.port} offered no host key`);
  return { client, sftp, hostKey: seen.key };
}

/**
 * Ends a connection that failed or is no longer wanted. Ending one the server already
 * closed fails, and that failure says nothing the caller's own error does not.
 */
async function closeQuietly(client: SftpClient): Promise<void> {
  try {
    await client.end();
  } catch {
    // already closed
  }
}

/** The ssh2 client inside ssh2-sftp-client (not in its type declarations). */
interface SshSocketControl {
  once(event: 'connect', listener: () => void): unknown;
  setNoDelay(noDelay: boolean): unknown;
}

/**
 * ssh2 leaves Nagle's algorithm on, and without its optional native crypto addon (the plugin
 * image installs no compiler) it writes each packet in several pieces: every request then
 * waits for the server's delayed ACK. Measured: a Create on a pooled connection took 230 ms
 * with Nagle on, 10-20 ms with it off; the handshake 720 ms, then about 200 ms.
 */
function disableNagle(client: SftpClient): void {
  const ssh = (client as unknown as { client?: SshSocketControl }).client;
  ssh?.once('connect', () => ssh.setNoDelay(true));
}

function judge(target: ControlTarget, key: HostKey): 'trusted' | 'revoked' | 'unknown' {
  const pinned = target.trust.fingerprint;
  if (pinned !== undefined) return sameFingerprint(pinned, fingerprintOf(key)) ? 'trusted' : 'unknown';
  if (target.trust.knownHosts !== undefined) return knownHostsTrust(target.trust.knownHosts, target.host, target.port, key);
  return 'unknown';
}

function hostKeyError(target: ControlTarget, key: HostKey, verdict: 'revoked' | 'unknown'): PluginError {
  const where = `${target.host}:${target.port}`;
  const fingerprint = fingerprintOf(key);
  if (verdict === 'revoked') {
    return new PluginError('REMOTE_HOSTKEY', `the ${key.type} host key of ${where} (${fingerprint}) is marked @revoked in known_hosts; refusing to connect`);
  }
  const pinned = target.trust.fingerprint;
  const check = `compare it with "ssh-keygen -l -f /etc/ssh/ssh_host_${key.type.replace(/^ssh-|-.*$/g, '')}_key.pub" run on the server`;
  if (pinned !== undefined) {
    return new PluginError(
      'REMOTE_HOSTKEY',
      `host key mismatch for ${where}: expected ${pinned} but the server offered ${key.type} ${fingerprint}. ` +
        `If the server's key really changed (${check}), create the volume with -o hostkey=${fingerprint}; otherwise someone may be intercepting the connection`,
    );
  }
  return new PluginError(
    'REMOTE_HOSTKEY',
    `the host key of ${where} is not trusted: the server offered ${key.type} ${fingerprint}. ` +
      `If that is your server's key (${check}), pin it with -o hostkey=${fingerprint}, or add it to known_hosts in the plugin's keys directory`,
  );
}

/** Secrets are read from their files into memory for this connection only. */
async function readSecrets(target: ControlTarget): Promise<{ privateKey?: Buffer; password?: string }> {
  if (target.passwordFile !== undefined) return { password: await readPassword(target.passwordFile) };
  if (target.identityFile !== undefined) return { privateKey: await readSecretFile(target.identityFile, 'identity') };
  throw new PluginError('BAD_OPTION', 'an SFTP volume needs credentials: add -o identity=KEYFILE or -o password_file=FILE (files in the plugin\'s keys directory), or set SFTP_IDENTITY');
}
