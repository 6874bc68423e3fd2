/**
 * A real OpenSSH sshd on 127.0.0.1 for integration tests.
 *
 *   const sshd = await TestSshd.start();
 *   // sshd.host, sshd.port, sshd.user, sshd.password, sshd.clientKeyPath, sshd.root ...
 *   await sshd.kill();      // abrupt: listener and every session process SIGKILLed
 *   await sshd.restart();   // same port, same host key
 *   await sshd.dispose();   // stop and remove the temp dir
 *
 * Needs root (useradd/chpasswd, sshd). The sshd runs in the foreground (-D) as a child of
 * the test process, with a parent-death signal (setpriv --pdeathsig KILL), and every live
 * instance's whole process tree is SIGKILLed on process 'exit', so it never outlives the
 * tests. Per-connection sshd processes call setsid(), so they are NOT in the listener's
 * process group and setproctitle() hides the config path from their cmdline; they are
 * found by walking /proc (PPid) from the listener instead.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ConnectConfig } from 'ssh2';
import { parseMountinfo } from '../../src/system/mountinfo';
import { readFileFrom } from './read-from';
import { run, runOk } from './run';

export const TEST_USER = 'dvstest';
/** Known password of TEST_USER (set with chpasswd on every first start in a process). */
export const TEST_PASSWORD = 'dvstest-Pw-4e1f9a';

const SSHD = '/usr/sbin/sshd'; // sshd refuses to re-exec unless started with an absolute path
const PRIVSEP_DIR = '/run/sshd';

export interface SshdOptions {
  /** Use this (existing or not) directory instead of a fresh temp dir; it is not removed by dispose(). */
  dir?: string;
  /** Listen on this port instead of a free one (no fallback to another port). */
  port?: number;
  /** Extra sshd_config lines, verbatim; each replaces the default line of its keyword (e.g. 'MaxStartups 10:30:100'). */
  extraConfig?: string[];
  /** Milliseconds to wait for the server to accept connections (default 10000). */
  readyTimeoutMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- process tree via /proc

interface ProcInfo {
  ppid: number;
  state: string;
}

function readProc(pid: number): ProcInfo | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) S ppid ..." -- comm may contain spaces and parentheses
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = rest[0];
  const ppid = Number(rest[1]);
  if (state === undefined || !Number.isFinite(ppid)) return undefined;
  return { ppid, state };
}

/** Alive = exists and is not a zombie (PID 1 here may never reap orphans). */
function isAlive(pid: number): boolean {
  const p = readProc(pid);
  return p !== undefined && p.state !== 'Z' && p.state !== 'X';
}

/** All live descendants of `roots` (not including them), parents before children. */
function descendants(...roots: number[]): number[] {
  const children = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const info = readProc(pid);
    if (!info) continue;
    const list = children.get(info.ppid);
    if (list) list.push(pid);
    else children.set(info.ppid, [pid]);
  }
  const out = new Set<number>();
  const queue = [...roots];
  for (let cur = queue.shift(); cur !== undefined; cur = queue.shift()) {
    for (const c of children.get(cur) ?? []) {
      if (out.has(c) || roots.includes(c)) continue;
      out.add(c);
      queue.push(c);
    }
  }
  return [...out].filter(isAlive);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/**
 * Freeze the listener and its whole tree (so nothing can fork behind our back), then
 * return every pid in it. Synchronous so that it can run in an 'exit' handler.
 */
function freezeTree(root: number): number[] {
  signal(root, 'SIGSTOP');
  const seen = new Set<number>();
  for (let round = 0; round < 20; round++) {
    // walking from every pid seen so far also catches children reparented after a death
    const found = descendants(root, ...seen).filter((p) => !seen.has(p));
    if (found.length === 0) break;
    for (const p of found) {
      seen.add(p);
      signal(p, 'SIGSTOP');
    }
  }
  return [...seen];
}

// ---------------------------------------------------------------- global state

const live = new Set<TestSshd>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const s of live) s.killSync();
  });
}

let prereqs: Promise<void> | undefined;

/** /run/sshd, and the test user with a known password (once per process). */
function ensurePrereqs(): Promise<void> {
  prereqs ??= (async () => {
    if (typeof process.getuid === 'function' && process.getuid() !== 0) {
      throw new Error('TestSshd needs root (useradd, chpasswd, sshd)');
    }
    await fsp.mkdir(PRIVSEP_DIR, { recursive: true, mode: 0o755 });
    for (let attempt = 0; ; attempt++) {
      if ((await run('getent', ['passwd', TEST_USER])).code === 0) break;
      // -m: a home dir, so sftp sessions have a working directory; /bin/sh so `ssh cmd` works
      const r = await run('useradd', ['--create-home', '--user-group', '--shell', '/bin/sh', TEST_USER]);
      if (r.code === 0 || r.code === 9 /* already exists: another process won the race */) break;
      if (attempt >= 20) throw new Error(`useradd ${TEST_USER} failed (${String(r.code)}): ${r.stderr}`);
      await sleep(100); // 10 = cannot lock /etc/passwd (concurrent useradd)
    }
    // A fresh useradd leaves "!" in shadow, which sshd (UsePAM no) treats as locked even for
    // public keys. chpasswd replaces it with a real hash: unlocked, and password auth works.
    for (let attempt = 0; ; attempt++) {
      const r = await run('chpasswd', [], { input: `${TEST_USER}:${TEST_PASSWORD}\n` });
      if (r.code === 0) break;
      if (attempt >= 20) throw new Error(`chpasswd failed: ${r.stderr}`);
      await sleep(100);
    }
  })();
  prereqs.catch(() => (prereqs = undefined));
  return prereqs;
}

async function userIds(): Promise<{ uid: number; gid: number }> {
  const line = (await runOk('getent', ['passwd', TEST_USER])).stdout.trim().split(':');
  return { uid: Number(line[2]), gid: Number(line[3]) };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Connect and read the SSH identification string; resolves true if it starts with SSH-2.0-. */
function probeBanner(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean): void => {
      sock.destroy();
      clearTimeout(timer);
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      buf += d;
      if (buf.includes('\n')) done(buf.startsWith('SSH-2.0-'));
    });
    sock.on('error', () => done(false));
    sock.on('close', () => done(false));
  });
}

class PortInUseError extends Error {}

// ---------------------------------------------------------------- the harness

export class TestSshd {
  readonly host = '127.0.0.1' as const;
  readonly user = TEST_USER;
  readonly password = TEST_PASSWORD;

  readonly configPath: string;
  readonly logPath: string;
  readonly hostKeyPath: string;
  readonly authorizedKeysPath: string;

  private _port = 0;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    /** The harness's directory (config, keys, log, pid file, root). */
    readonly dir: string,
    private readonly ownsDir: boolean,
    /** Directory on the server owned by the user, for volumes (absolute). */
    readonly root: string,
    /** `ssh-keygen -l -f hostkey.pub`'s fingerprint field: "SHA256:<base64, no padding>". */
    readonly hostKeyFingerprint: string,
    /** "ssh-ed25519 AAAA..." (no comment). */
    readonly hostKeyLine: string,
    /** Unencrypted ed25519 private key (OpenSSH format, mode 0600) authorised for the user. */
    readonly clientKeyPath: string,
    readonly uid: number,
    readonly gid: number,
    private readonly extraConfig: string[],
    private readonly readyTimeoutMs: number,
  ) {
    this.configPath = path.join(dir, 'sshd_config');
    this.logPath = path.join(dir, 'sshd.log');
    this.hostKeyPath = path.join(dir, 'ssh_host_ed25519_key');
    this.authorizedKeysPath = path.join(dir, 'authorized_keys');
  }

  get port(): number {
    return this._port;
  }

  /** PID of the listening sshd, or undefined when not running. */
  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  get running(): boolean {
    return this.pid !== undefined;
  }

  static async start(opts: SshdOptions = {}): Promise<TestSshd> {
    await ensurePrereqs();
    installExitHook();
    const ownsDir = opts.dir === undefined;
    const dir = opts.dir ?? (await fsp.mkdtemp(path.join(os.tmpdir(), 'dvs-sshd-')));
    await fsp.mkdir(dir, { recursive: true });
    await fsp.chmod(dir, 0o755); // the user must be able to traverse to root/
    const { uid, gid } = await userIds();

    const hostKey = path.join(dir, 'ssh_host_ed25519_key');
    const clientKey = path.join(dir, 'client_ed25519');
    await Promise.all([
      fsp.rm(hostKey, { force: true }),
      fsp.rm(`${hostKey}.pub`, { force: true }),
      fsp.rm(clientKey, { force: true }),
      fsp.rm(`${clientKey}.pub`, { force: true }),
    ]);
    await Promise.all([
      runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'dvs-test-host', '-f', hostKey]),
      runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'dvs-test-client', '-f', clientKey]),
    ]);
    // "256 SHA256:xxxx comment (ED25519)"
    const fp = (await runOk('ssh-keygen', ['-l', '-f', `${hostKey}.pub`])).stdout.trim().split(/\s+/)[1];
    if (!fp?.startsWith('SHA256:')) throw new Error(`unexpected ssh-keygen -l output: ${String(fp)}`);
    const [kType, kB64] = (await fsp.readFile(`${hostKey}.pub`, 'utf8')).trim().split(/\s+/);
    const clientPub = (await fsp.readFile(`${clientKey}.pub`, 'utf8')).trim();
    const authKeys = path.join(dir, 'authorized_keys');
    await fsp.writeFile(authKeys, `${clientPub}\n`, { mode: 0o644 });

    const root = path.join(dir, 'root');
    await fsp.mkdir(root, { recursive: true });
    await fsp.chown(root, uid, gid);
    await fsp.chmod(root, 0o755);

    const s = new TestSshd(
      dir, ownsDir, root, fp, `${String(kType)} ${String(kB64)}`, clientKey, uid, gid,
      opts.extraConfig ?? [], opts.readyTimeoutMs ?? 10_000,
    );
    if (opts.port !== undefined) {
      await s.launchRetrying(opts.port);
    } else {
      for (let attempt = 0; ; attempt++) {
        try {
          await s.launch(await freePort());
          break;
        } catch (e) {
          if (!(e instanceof PortInUseError) || attempt >= 10) throw e;
        }
      }
    }
    return s;
  }

  // ------------------------------------------------------------ lifecycle

  /** SIGTERM the listener and all its session processes; wait for them (SIGKILL after 5 s). */
  async stop(): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) return;
    const tree = descendants(pid);
    for (const p of [pid, ...tree]) signal(p, 'SIGTERM');
    const gone = await this.waitGone([pid, ...tree], 5000);
    if (!gone) {
      await this.kill();
      return;
    }
    await this.exited;
    live.delete(this);
  }

  /**
   * Abrupt: freeze then SIGKILL the listener and every session process (sftp sessions,
   * preauth children). TCP connections are reset by the kernel as the processes die, so an
   * sshfs or ssh2 client sees the connection drop at once, as on a server crash.
   */
  async kill(): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) return;
    const tree = this.killSync();
    await this.exited;
    if (!(await this.waitGone(tree, 5000))) {
      throw new Error(`sshd session processes survived SIGKILL: ${tree.filter(isAlive).join(' ')}`);
    }
    live.delete(this);
  }

  /** @internal synchronous SIGKILL of the whole tree; returns the pids killed. */
  killSync(): number[] {
    const pid = this.pid;
    if (pid === undefined) return [];
    const tree = freezeTree(pid);
    for (const p of tree) signal(p, 'SIGKILL');
    signal(pid, 'SIGKILL');
    return [pid, ...tree];
  }

  /**
   * Hang the server without closing anything: SIGSTOP the listener and all session
   * processes. Clients keep their TCP connections but get no answers (like a network
   * partition); resume() continues them.
   */
  pause(): void {
    const pid = this.pid;
    if (pid !== undefined) freezeTree(pid);
  }

  resume(): void {
    const pid = this.pid;
    if (pid === undefined) return;
    signal(pid, 'SIGCONT');
    for (const p of descendants(pid)) signal(p, 'SIGCONT');
  }

  /** Start again on the same port with the same host key (stops first if running). */
  async restart(): Promise<void> {
    if (this.running) await this.stop();
    await this.launchRetrying(this._port);
  }

  /** stop(), and remove the directory if start() created it. */
  async dispose(): Promise<void> {
    try {
      await this.stop();
    } finally {
      if (this.ownsDir) await fsp.rm(this.dir, { recursive: true, force: true });
    }
  }

  // ------------------------------------------------------------ helpers for tests

  /** The most connections the server held while `work` ran (sampled every 20 ms). */
  async mostConnectionsDuring(work: () => Promise<unknown>): Promise<number> {
    let most = this.connectionCount();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        most = Math.max(most, this.connectionCount());
        await sleep(20);
      }
    })();
    try {
      await work();
    } finally {
      sampling = false;
      await sampler;
    }
    return most;
  }

  /**
   * SSH connections the server holds now: the listener forks one monitor process per
   * connection (OpenSSH 9.2: "sshd: user [priv]"), with the session processes below it.
   */
  connectionCount(): number {
    const pid = this.pid;
    if (pid === undefined) return 0;
    return fs
      .readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name))
      .filter((name) => readProc(Number(name))?.ppid === pid && isAlive(Number(name))).length;
  }

  /** `[127.0.0.1]:PORT ssh-ed25519 AAAA...` -- the known_hosts entry for this server. */
  get knownHostsLine(): string {
    return `[${this.host}]:${this._port} ${this.hostKeyLine}`;
  }

  /** Copy the client private key to dir/name with mode 0600 (ssh insists); returns the path. */
  async writeClientKeyInto(dir: string, name = 'id_ed25519'): Promise<string> {
    const dest = path.join(dir, name);
    await fsp.mkdir(dir, { recursive: true });
    await fsp.copyFile(this.clientKeyPath, dest);
    await fsp.chmod(dest, 0o600);
    return dest;
  }

  /** Write a known_hosts file holding only this server's entry; returns the path. */
  async writeKnownHostsInto(dir: string, name = 'known_hosts'): Promise<string> {
    const dest = path.join(dir, name);
    await fsp.mkdir(dir, { recursive: true });
    await fsp.writeFile(dest, `${this.knownHostsLine}\n`, { mode: 0o644 });
    return dest;
  }

  /** The client private key's contents. */
  clientKey(): Buffer {
    return fs.readFileSync(this.clientKeyPath);
  }

  /** ssh2 / ssh2-sftp-client connect options (key auth, host key pinned, short timeouts). */
  connectConfig(overrides: Partial<ConnectConfig> = {}): ConnectConfig {
    return {
      host: this.host,
      port: this._port,
      username: this.user,
      privateKey: this.clientKey(),
      readyTimeout: 5000,
      hostVerifier: (key: Buffer): boolean => sshFingerprint(key) === this.hostKeyFingerprint,
      ...overrides,
    };
  }

  /** sshfs/scp-style remote spec `user@127.0.0.1:remotePath` (pass the port with -p). */
  target(remotePath: string): string {
    return `${this.user}@${this.host}:${remotePath}`;
  }

  /** Absolute server-side path of `rel` under root. */
  serverPath(...rel: string[]): string {
    return path.join(this.root, ...rel);
  }

  /** Create root/rel (recursively) owned by the test user; returns the absolute path. */
  async mkdirAsUser(rel: string, mode = 0o755): Promise<string> {
    const abs = this.serverPath(rel);
    let cur = this.root;
    for (const part of path.relative(this.root, abs).split(path.sep).filter(Boolean)) {
      cur = path.join(cur, part);
      await fsp.mkdir(cur, { recursive: true });
      await fsp.chown(cur, this.uid, this.gid);
    }
    await fsp.chmod(abs, mode);
    return abs;
  }

  /** The sshd log (VERBOSE), for diagnostics in failed tests. */
  log(): string {
    try {
      return fs.readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  /** PIDs of the listener's live descendants (per-connection sshd processes). */
  sessionPids(): number[] {
    const pid = this.pid;
    return pid === undefined ? [] : descendants(pid);
  }

  // ------------------------------------------------------------ internals

  private writeConfig(port: number): void {
    const defaults = [
      `ListenAddress ${this.host}:${port}`,
      `HostKey ${this.hostKeyPath}`,
      `PidFile ${path.join(this.dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${this.authorizedKeysPath}`,
      // authorized_keys lives under /tmp (mode 1777), which StrictModes' path walk rejects
      'StrictModes no',
      'UsePAM no',
      'PubkeyAuthentication yes',
      'PasswordAuthentication yes',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin no',
      `AllowUsers ${this.user}`,
      'UseDNS no',
      'PrintMotd no',
      'X11Forwarding no',
      'AllowAgentForwarding no',
      'AllowTcpForwarding no',
      'LogLevel VERBOSE',
      'MaxStartups 100:30:200',
      'MaxSessions 100',
      'MaxAuthTries 10',
      'Subsystem sftp internal-sftp',
    ];
    // An extra line replaces the default of its keyword: sshd takes the first value of most
    // keywords but the last of some (MaxStartups), so there is one of each.
    const keyword = (line: string): string => line.split(/\s+/)[0]?.toLowerCase() ?? '';
    const overridden = new Set(this.extraConfig.map(keyword));
    const lines = [...this.extraConfig, ...defaults.filter((line) => !overridden.has(keyword(line)))];
    fs.writeFileSync(this.configPath, `${lines.join('\n')}\n`, { mode: 0o600 });
  }

  private async launchRetrying(port: number): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await this.launch(port);
        return;
      } catch (e) {
        if (!(e instanceof PortInUseError) || Date.now() > deadline) throw e;
        await sleep(200);
      }
    }
  }

  private async launch(port: number): Promise<void> {
    if (this.running) throw new Error('sshd already running');
    this._port = port;
    this.writeConfig(port);
    const logStart = fs.existsSync(this.logPath) ? fs.statSync(this.logPath).size : 0;
    // setpriv execs sshd in place (same pid) with PR_SET_PDEATHSIG=SIGKILL: if this test
    // process dies, even by SIGKILL, the listener dies too.
    const child = spawn(
      'setpriv',
      ['--pdeathsig', 'KILL', '--', SSHD, '-D', '-f', this.configPath, '-E', this.logPath],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } },
    );
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('error', (e) => (stderr += String(e)));
    this.child = child;
    live.add(this);

    const newLog = (): string => {
      try {
        return readFileFrom(this.logPath, logStart);
      } catch {
        return '';
      }
    };

    const deadline = Date.now() + this.readyTimeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
        await this.exited;
        live.delete(this);
        const log = newLog();
        const msg = `sshd exited (${String(child.exitCode ?? child.signalCode)}): ${stderr}${log}`.trim();
        if (/Address already in use/.test(log + stderr)) throw new PortInUseError(msg);
        throw new Error(msg);
      }
      if (newLog().includes(`Server listening on ${this.host} port ${port}`) && (await probeBanner(port, 1000))) {
        return;
      }
      if (Date.now() > deadline) {
        this.killSync();
        await this.exited;
        live.delete(this);
        throw new Error(`sshd did not become ready on port ${port}: ${stderr}${newLog()}`);
      }
      await sleep(25);
    }
  }

  private async waitGone(pids: number[], timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (pids.some(isAlive)) {
      if (Date.now() > deadline) return false;
      await sleep(20);
    }
    return true;
  }
}

/** OpenSSH-style fingerprint of a raw public key blob: "SHA256:" + unpadded base64 of its SHA-256. */
export function sshFingerprint(keyBlob: Buffer): string {
  return `SHA256:${crypto.createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** True if `mountpoint` is currently a mount of type fuse.sshfs in this mount namespace. */
export function isSshfsMounted(mountpoint: string): boolean {
  const target = path.resolve(mountpoint);
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8'); // synchronous: forceUnmount runs in after hooks
  } catch {
    return false;
  }
  return parseMountinfo(text).some((entry) => entry.mountPoint === target && entry.fsType === 'fuse.sshfs');
}

/** Lazy-unmount a FUSE mount, ignoring "not mounted". Synchronous for use in after hooks. */
export function forceUnmount(mountpoint: string): void {
  if (!isSshfsMounted(mountpoint)) return;
  const r = spawnSync('fusermount3', ['-u', '-z', mountpoint], { stdio: 'ignore' });
  if (r.status !== 0) spawnSync('umount', ['-l', mountpoint], { stdio: 'ignore' });
}
