/**
 * The world of the metadata suite of scripts/bench, on the host only (no Docker): one real sshd on
 * loopback, a latency proxy per round-trip time in front of it, and the peers, each a way
 * to mount the server's directory: raw sshfs with its defaults, sshfs option profiles (the
 * plugin's options of today with one thing changed), the plugin's own rendering of its
 * options (imported from src/, so the figures follow the code) and `rclone mount`.
 * Every mount is a fresh process at a fresh mountpoint, so its caches start cold.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DefaultStore } from '../../src/backends/sftp/default-store';
import { hostKeyFromBlob, knownHostsLine } from '../../src/backends/sftp/control/host-keys';
import { shareRecipe } from '../../src/backends/sftp/sshfs/share-recipe';
import { SSH_HOST_ALIAS } from '../../src/backends/sftp/sshfs/ssh-config';
import { resolveSettings } from '../../src/backends/sftp/sftp-settings';
import { findSshfsRuntime } from '../../src/backends/sftp/sshfs/sshfs-runtime';
import { readMounts } from '../../src/system/mountinfo';
import { startLatencyProxy } from '../../test/support/latency-proxy';
import { TestSshd } from '../../test/support/sshd';
import { run } from '../../test/support/run';
import { unmountUnder } from './lib/mounts';
import { log, sleep } from './lib/proc';

/** sshfs as the plugin runs it: the libraries `npm run build` puts in dist/. */
const SSHFS_RUNTIME = findSshfsRuntime(path.join(__dirname, '..', '..', 'dist'));

export type PeerId =
  | 'sshfs-defaults'
  | 'today'
  | 'today-dcache0'
  | 'today-kt0.2'
  | 'today-kt0.9'
  | 'today-conns1'
  | 'today-autocache'
  | 'ours'
  | 'ours-ct20'
  | 'ours-ct20-c1'
  | 'rclone';

/**
 * The plugin's sshfs options of today (before issue 12), as a fixed reference the
 * profiles change one thing of. "ours" never uses this list: it renders its own.
 */
export const TODAY_OPTIONS = [
  'reconnect',
  'idmap=user',
  'max_conns=4',
  'dir_cache=no',
  'attr_timeout=0.5',
  'entry_timeout=0.5',
  'negative_timeout=0',
  'allow_other',
] as const;
export const TODAY_CIPHER = 'aes128-gcm@openssh.com';

type Kind = 'sshfs-raw' | 'sshfs-profile' | 'ours' | 'rclone';

export interface PeerInfo {
  kind: Kind;
  label: string;
  short: string;
  color: string;
  /** For profiles: today's options with these replaced (by name) or added. */
  change?: Record<string, string | null>;
  /** For ours: volume options given to the plugin (beyond server and login). */
  volumeOptions?: Record<string, string>;
}

export const PEERS: Record<PeerId, PeerInfo> = {
  'sshfs-defaults': { kind: 'sshfs-raw', label: "raw sshfs, sshfs's defaults", short: 'sshfs defaults', color: '#7f7f7f' },
  today: { kind: 'sshfs-profile', label: "today's plugin options (dir_cache=no, kernel 0.5 s)", short: "today's", color: '#ff7f0e', change: {} },
  'today-dcache0': {
    kind: 'sshfs-profile',
    label: "today's, dir_cache=yes,dcache_timeout=0",
    short: 'dir_cache=yes,0',
    color: '#1f77b4',
    change: { dir_cache: 'yes', dcache_timeout: '0' },
  },
  'today-kt0.2': { kind: 'sshfs-profile', label: "today's, attr/entry_timeout=0.2", short: 'kernel 0.2 s', color: '#aec7e8', change: { attr_timeout: '0.2', entry_timeout: '0.2' } },
  'today-kt0.9': { kind: 'sshfs-profile', label: "today's, attr/entry_timeout=0.9", short: 'kernel 0.9 s', color: '#17becf', change: { attr_timeout: '0.9', entry_timeout: '0.9' } },
  'today-conns1': { kind: 'sshfs-profile', label: "today's, max_conns=1", short: 'max_conns=1', color: '#bcbd22', change: { max_conns: '1' } },
  'today-autocache': { kind: 'sshfs-profile', label: "today's, auto_cache", short: 'auto_cache', color: '#8c564b', change: { auto_cache: '' } },
  ours: { kind: 'ours', label: 'ours (default), options rendered by src/', short: 'ours default', color: '#d62728', volumeOptions: {} },
  'ours-ct20': { kind: 'ours', label: 'ours with cache_timeout=20', short: 'ours ct=20', color: '#ff9896', volumeOptions: { cache_timeout: '20' } },
  'ours-ct20-c1': {
    kind: 'ours',
    label: 'ours with cache_timeout=20,connections=1',
    short: 'ours ct=20 c=1',
    color: '#9467bd',
    volumeOptions: { cache_timeout: '20', connections: '1' },
  },
  rclone: { kind: 'rclone', label: 'rclone mount, sftp remote, its defaults', short: 'rclone', color: '#2ca02c' },
};

export const PEER_IDS = Object.keys(PEERS) as PeerId[];

/** Today's options with a profile's change applied in place (a null value removes the option). */
export function profileOptions(change: Record<string, string | null>): string[] {
  const render = (key: string, value: string): string => (value === '' ? key : `${key}=${value}`);
  const pending = new Map(Object.entries(change));
  const out: string[] = [];
  for (const option of TODAY_OPTIONS) {
    const key = option.split('=')[0]!;
    if (!pending.has(key)) {
      out.push(option);
      continue;
    }
    const value = pending.get(key);
    pending.delete(key);
    if (value !== null && value !== undefined) out.push(render(key, value));
    // dir_cache=yes brings its timeout next to it
    if (key !== 'dir_cache') continue;
    for (const [k, v] of pending) {
      if (!k.startsWith('dcache')) continue;
      if (v !== null) out.push(render(k, v));
      pending.delete(k);
    }
  }
  for (const [key, value] of pending) if (value !== null) out.push(render(key, value));
  return out;
}

const KEY_NAME = 'id_bench';
/** The plugin's own host alias is used for every sshfs peer, so all run the same command line. */
const ALIAS = SSH_HOST_ALIAS;

/** One live mount of one peer. */
export interface Mount {
  peer: PeerId;
  mountpoint: string;
  child: ChildProcess;
  log: string;
}

/** How a peer was mounted, for the report. */
export interface MountRecipe {
  command: string;
  sshfsOptions?: string[];
  sshConfig?: string;
}

export class MetadataWorld {
  sshd!: TestSshd;
  readonly clientDir: string;
  readonly mntDir: string;
  readonly logDir: string;
  private readonly proxies = new Map<number, { port: number; child: ChildProcess }>();
  private readonly mounts = new Set<Mount>();
  private counter = 0;
  private stopped = false;

  private constructor(readonly dir: string) {
    this.clientDir = path.join(dir, 'client');
    this.mntDir = path.join(dir, 'mnt');
    this.logDir = path.join(dir, 'logs');
  }

  static async start(dir: string, rtts: readonly number[]): Promise<MetadataWorld> {
    await unmountUnder(dir); // left by a run that was killed
    fs.rmSync(dir, { recursive: true, force: true });
    const world = new MetadataWorld(dir);
    try {
      await world.setUp(rtts);
    } catch (error) {
      await world.stop();
      throw error;
    }
    return world;
  }

  private async setUp(rtts: readonly number[]): Promise<void> {
    for (const sub of [this.dir, this.clientDir, this.mntDir, this.logDir]) fs.mkdirSync(sub, { recursive: true });
    fs.chmodSync(this.dir, 0o755); // the sshd user walks to its root below it
    this.sshd = await TestSshd.start({ dir: path.join(this.dir, 'sshd') });
    await this.sshd.writeClientKeyInto(this.clientDir, KEY_NAME);
    for (const rtt of rtts.filter((r) => r > 0)) await this.startProxy(rtt);
    const blob = Buffer.from(this.sshd.hostKeyLine.split(/\s+/)[1] ?? '', 'base64');
    const key = hostKeyFromBlob(blob);
    const ports = [this.sshd.port, ...[...this.proxies.values()].map((p) => p.port)];
    fs.writeFileSync(this.rcloneConfig, '');
    fs.writeFileSync(this.knownHosts, ports.map((port) => `${knownHostsLine('127.0.0.1', port, key)}\n`).join(''));
  }

  get knownHosts(): string {
    return path.join(this.clientDir, 'known_hosts');
  }

  /** An empty rclone config file: the remote is defined by RCLONE_CONFIG_BENCH_* variables. */
  get rcloneConfig(): string {
    return path.join(this.clientDir, 'rclone.conf');
  }

  get clientKey(): string {
    return path.join(this.clientDir, KEY_NAME);
  }

  /** Port a client uses to reach the sshd at this round-trip time (0: directly). */
  port(rtt: number): number {
    if (rtt === 0) return this.sshd.port;
    const proxy = this.proxies.get(rtt);
    if (proxy === undefined) throw new Error(`no proxy for RTT ${rtt} ms`);
    return proxy.port;
  }

  /** The sshfs options and ssh config a peer mounts with (not for rclone). */
  sshfsRecipe(peer: PeerId, rtt: number, remotePath: string): { options: string[]; config: string; remote: string; env?: Readonly<Record<string, string>> } {
    const info = PEERS[peer];
    const login = [
      `Host ${ALIAS}`,
      '  HostName 127.0.0.1',
      `  Port ${this.port(rtt)}`,
      `  User ${this.sshd.user}`,
      `  IdentityFile "${this.clientKey}"`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile "${this.knownHosts}"`,
      '  GlobalKnownHostsFile /dev/null',
      '  StrictHostKeyChecking yes',
      '  BatchMode yes',
    ];
    switch (info.kind) {
      case 'sshfs-raw':
        return { options: [], config: `${login.join('\n')}\n`, remote: remotePath };
      case 'sshfs-profile':
        return { options: profileOptions(info.change ?? {}), config: `${[...login, `  Ciphers ${TODAY_CIPHER}`].join('\n')}\n`, remote: remotePath };
      case 'ours': {
        const options = {
          host: '127.0.0.1',
          port: String(this.port(rtt)),
          user: this.sshd.user,
          identity: KEY_NAME,
          hostkey: this.sshd.hostKeyFingerprint,
          path: remotePath,
          ...info.volumeOptions,
        };
        const settings = resolveSettings({ name: 'bench', options, mountpoint: '' }, new DefaultStore({}), this.clientDir);
        // The plugin's own recipe: the same ssh_config and sshfs options a share of this volume gets.
        const recipe = shareRecipe(settings, fs.readFileSync(this.knownHosts, 'utf8'), SSHFS_RUNTIME, path.join(this.clientDir, 'shares'));
        fs.mkdirSync(recipe.dir, { recursive: true });
        fs.writeFileSync(recipe.knownHostsFile, recipe.knownHosts);
        return { options: [...recipe.options], config: recipe.sshConfig, remote: settings.remotePath, env: recipe.env };
      }
      case 'rclone':
        throw new Error('rclone has no sshfs recipe');
    }
  }

  /** How a peer mounts, for the report (at RTT 0). */
  recipe(peer: PeerId, remotePath: string): MountRecipe {
    if (PEERS[peer].kind === 'rclone') return { command: `rclone mount bench:${remotePath} MOUNTPOINT ${RCLONE_FLAGS.join(' ')} (sftp remote: key_file, known_hosts_file)`.replace(/ +/g, ' ') };
    const { options, config } = this.sshfsRecipe(peer, 0, remotePath);
    return { command: `sshfs -f -F CONFIG ${ALIAS}:${remotePath} MOUNTPOINT${options.length > 0 ? ` -o ${options.join(',')}` : ''}`, sshfsOptions: options, sshConfig: config };
  }

  /** A fresh mount of the server's directory `remotePath` by `peer` through the proxy for `rtt`. */
  async mount(peer: PeerId, rtt: number, remotePath: string): Promise<Mount> {
    if (this.stopped) throw new Error('stopping');
    this.counter += 1;
    const id = `${peer}-${rtt}-${this.counter}`;
    const mountpoint = path.join(this.mntDir, id);
    fs.mkdirSync(mountpoint, { recursive: true });
    const logFile = path.join(this.logDir, `${id}.log`);
    let command: string;
    let args: string[];
    let env: NodeJS.ProcessEnv = process.env;
    if (PEERS[peer].kind === 'rclone') {
      command = 'rclone';
      args = ['mount', `bench:${remotePath}`, mountpoint, ...RCLONE_FLAGS, '--cache-dir', path.join(this.dir, 'rclone-cache', id)];
      env = {
        ...process.env,
        RCLONE_CONFIG: this.rcloneConfig,
        RCLONE_CONFIG_BENCH_TYPE: 'sftp',
        RCLONE_CONFIG_BENCH_HOST: '127.0.0.1',
        RCLONE_CONFIG_BENCH_PORT: String(this.port(rtt)),
        RCLONE_CONFIG_BENCH_USER: this.sshd.user,
        RCLONE_CONFIG_BENCH_KEY_FILE: this.clientKey,
        RCLONE_CONFIG_BENCH_KNOWN_HOSTS_FILE: this.knownHosts,
      };
    } else {
      const recipe = this.sshfsRecipe(peer, rtt, remotePath);
      const config = path.join(this.clientDir, `${id}.ssh_config`);
      fs.writeFileSync(config, recipe.config, { mode: 0o600 });
      command = 'sshfs';
      // As the plugin runs it (sshfs-process.ts): foreground, its own ssh config file.
      args = ['-f', '-F', config, `${ALIAS}:${recipe.remote}`, mountpoint, ...(recipe.options.length > 0 ? ['-o', recipe.options.join(',')] : [])];
      if (recipe.env !== undefined && Object.keys(recipe.env).length > 0) {
        // Ours runs with the plugin's libraries (cache clock, open files, every connection
        // at mount); set by env(1) after setpriv, so that only sshfs loads them.
        args = [...Object.entries(recipe.env).map(([key, value]) => `${key}=${value}`), command, ...args];
        command = 'env';
      }
    }
    const out = fs.openSync(logFile, 'w');
    // Its own process group (a Ctrl-C reaches only this process, which unmounts in order);
    // SIGTERM when this process dies, however it dies.
    const child = spawn('setpriv', ['--pdeathsig', 'TERM', '--', command, ...args], { stdio: ['ignore', out, out], env, detached: true });
    fs.closeSync(out);
    const mount: Mount = { peer, mountpoint, child, log: logFile };
    this.mounts.add(mount);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        this.mounts.delete(mount);
        throw new Error(`${command} exited (${String(child.exitCode ?? child.signalCode)}) before mounting: ${tailOf(logFile)}`);
      }
      if (await isFuseMount(mountpoint)) {
        // As the plugin does: a stat goes through FUSE, so its answer proves the mount serves.
        const stat = await run('stat', ['-c', '%F', mountpoint], { timeoutMs: 30_000 });
        if (stat.code === 0 && stat.stdout.trim() === 'directory') return mount;
      }
      if (Date.now() > deadline) {
        await this.unmount(mount);
        throw new Error(`${command} did not mount within 30 s: ${tailOf(logFile)}`);
      }
      await sleep(20);
    }
  }

  /** Unmounts and waits for the process to end (SIGKILL after 10 s). */
  async unmount(mount: Mount): Promise<void> {
    const { child, mountpoint } = mount;
    const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (await isFuseMount(mountpoint)) {
      const first = await run('fusermount3', ['-u', mountpoint], { timeoutMs: 30_000 });
      if (first.code !== 0) {
        log(`  fusermount3 -u ${mountpoint}: ${first.stderr.trim()}; unmounting lazily`);
        await run('fusermount3', ['-u', '-z', mountpoint], { timeoutMs: 30_000 });
      }
    }
    const killed = await Promise.race([exited.then(() => false), sleep(10_000).then(() => true)]);
    if (killed) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
      await exited;
    }
    this.mounts.delete(mount);
    fs.rmSync(mountpoint, { recursive: true, force: true });
  }

  private async startProxy(rtt: number): Promise<void> {
    const { port, child } = await startLatencyProxy(`127.0.0.1:${this.sshd.port}`, rtt, { detached: true });
    this.proxies.set(rtt, { port, child });
    log(`latency proxy: RTT ${rtt} ms on port ${port}`);
  }

  /** Unmounts everything, stops every process started here, removes the directory. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const step = async (what: string, fn: () => unknown): Promise<void> => {
      try {
        await fn();
      } catch (error) {
        log(`clean-up: ${what}: ${(error as Error).message}`);
      }
    };
    for (const mount of [...this.mounts]) await step(`unmount ${mount.mountpoint}`, () => this.unmount(mount));
    for (const { child } of this.proxies.values()) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(5000)]);
      }
    }
    if (this.sshd !== undefined) await step('sshd', () => this.sshd.stop());
    await step('leftover mounts', () => unmountUnder(this.dir));
    await step('directory', () => fs.rmSync(this.dir, { recursive: true, force: true }));
  }
}

/** rclone mount's flags: its defaults (no VFS cache, 5 min directory cache), quiet logs. */
const RCLONE_FLAGS = ['--log-level', 'NOTICE'];

async function isFuseMount(dir: string): Promise<boolean> {
  return (await readMounts()).some((m) => m.mountPoint === dir && m.fsType.startsWith('fuse'));
}

function tailOf(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-5).join(' | ').slice(0, 800);
  } catch {
    return '';
  }
}
