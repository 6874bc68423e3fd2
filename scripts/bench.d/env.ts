/**
 * The benchmark's world on this machine: a private Docker Engine with our plugin installed
 * by scripts/install, one real sshd on loopback, latency-injecting proxies in front of it,
 * rclone's `serve docker` as a legacy plugin on the same engine, and raw sshfs mounts.
 * Everything lives under one directory (scripts/bench's work directory/docker) and stop()
 * ends all of it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { TestSshd } from '../../test/support/sshd';
import { descendants, processes, rssMB } from './lib/procfs';
import { removeStaleLegacySockets } from '../../test/support/legacy-plugin-sockets';
import { readFileFrom } from '../../test/support/read-from';
import { readMounts } from '../../src/system/mountinfo';
import { unmountUnder } from './lib/mounts';
import { startLatencyProxy } from '../../test/support/latency-proxy';
import { run, runOk, type RunOptions, type RunResult } from '../../test/support/run';
import { log, sleep } from './lib/proc';
import { REPO } from './lib/repo';

export const PLUGIN = 'sftp';
/** rclone's socket name, i.e. its driver name on the engine (unique to the benchmark). */
export const RCLONE_DRIVER = 'dvsbenchrc';
export const IMAGE = 'dvs-busybox:latest';
/** Every volume the benchmark makes starts with this. */
export const PREFIX = 'dvsb';
const KEY_NAME = 'id_test';
/** read_ahead_kb of the "best + read-ahead" sshfs mounts (default 128). */
export const READ_AHEAD_KB = 1024;

export type PeerId = 'local-driver' | 'ours-local' | 'ours-sftp' | 'rclone' | 'sshfs-defaults' | 'sshfs-best' | 'sshfs-best-ra';

export const PEERS: Record<PeerId, { label: string; short: string; color: string }> = {
  'ours-sftp': { label: 'ours, SFTP backend (defaults)', short: 'ours SFTP', color: '#d62728' },
  'ours-local': { label: 'ours, local backend', short: 'ours local', color: '#ff9896' },
  rclone: { label: 'rclone serve docker, sftp backend, no VFS cache', short: 'rclone', color: '#2ca02c' },
  'sshfs-defaults': { label: "raw sshfs, sshfs's defaults", short: 'sshfs defaults', color: '#7f7f7f' },
  'sshfs-best': { label: 'raw sshfs, Ciphers=aes128-gcm@openssh.com, max_conns=4', short: 'sshfs best', color: '#1f77b4' },
  'sshfs-best-ra': { label: `raw sshfs, as "best" plus read_ahead_kb=${READ_AHEAD_KB} on its bdi`, short: 'sshfs best+ra', color: '#17becf' },
  'local-driver': { label: "Docker's local driver (the ceiling)", short: 'local driver', color: '#9467bd' },
};

/** Where a test container finds the data: a volume name or a host directory for -v. */
export interface Target {
  peer: PeerId;
  rtt: number;
  /** Left side of `-v ARG:/d`. */
  arg: string;
  /** The same directory as seen on the host, for clean-up behind the mount's back. */
  hostDir: string;
}

export interface WorldOptions {
  dir: string;
  rtts: number[];
  /** Reuse an engine and plugin that an earlier run left (--keep) instead of installing. */
  reuse: boolean;
}

/** The engine went away under the benchmark (another job stopped it): no point going on. */
export class EngineGone extends Error {}

export const rethrowIfEngineGone = (error: unknown): void => {
  if (error instanceof EngineGone) throw error;
};

export class World {
  readonly engineDir: string;
  readonly dataSource: string;
  readonly env: NodeJS.ProcessEnv;
  readonly clientDir: string;
  readonly workDir: string;
  sshd!: TestSshd;
  private readonly proxies = new Map<number, { port: number; child: ChildProcess }>();
  private rclone: ChildProcess | undefined;
  private readonly rawMounts: string[] = [];
  private stopping = false;

  private constructor(readonly options: WorldOptions) {
    this.engineDir = path.join(options.dir, 'e');
    this.dataSource = path.join(options.dir, 'pdata');
    this.clientDir = path.join(options.dir, 'client');
    this.workDir = path.join(options.dir, 'work');
    this.env = { ...process.env, DOCKER_HOST: `unix://${path.join(this.engineDir, 'docker.sock')}` };
  }

  get rcloneSocket(): string {
    return `/run/docker/plugins/${RCLONE_DRIVER}.sock`;
  }

  static async start(options: WorldOptions): Promise<World> {
    const world = new World(options);
    try {
      await world.setUp();
    } catch (error) {
      await world.stop({ keepEngine: options.reuse });
      throw error;
    }
    return world;
  }

  private async setUp(): Promise<void> {
    const { dir } = this.options;
    fs.mkdirSync(dir, { recursive: true });
    fs.chmodSync(dir, 0o755); // the sshd user walks to its root below it
    for (const sub of [this.clientDir, this.workDir, path.join(dir, 'mnt')]) fs.mkdirSync(sub, { recursive: true });

    await removeStaleLegacySockets(log);
    log(`engine in ${this.engineDir}`);
    await runOk(path.join(REPO, 'scripts/engine'), ['start', this.engineDir]);
    await runOk(path.join(REPO, 'scripts/base-image'), ['all'], { env: this.env });
    const installed = (await this.docker(['plugin', 'inspect', '-f', '{{.Enabled}}', PLUGIN], { allowFail: true })).stdout.trim() === 'true';
    if (this.options.reuse && installed) {
      log(`reusing the installed plugin ${PLUGIN} (--reuse)`);
    } else {
      log('scripts/install (docker build of the plugin from this checkout; about a minute)');
      const install = await run(path.join(REPO, 'scripts/install'), [], {
        env: { ...this.env, PLUGIN_DATA_SOURCE: this.dataSource, PLUGIN_NAME: PLUGIN, DEMO_VOLUME: '' },
      });
      fs.writeFileSync(path.join(dir, 'install.log'), install.stdout + install.stderr);
      if (install.code !== 0) throw new Error(`scripts/install failed; see ${path.join(dir, 'install.log')}`);
    }

    log('sshd on loopback');
    this.sshd = await TestSshd.start({ dir: path.join(dir, 'sshd') });
    await this.sshd.writeClientKeyInto(path.join(this.dataSource, 'keys'), KEY_NAME);
    await this.sshd.writeClientKeyInto(this.clientDir, 'id');
    for (const rtt of this.options.rtts.filter((r) => r > 0)) await this.startProxy(rtt);
    const hostKey = this.sshd.hostKeyLine;
    const ports = [this.sshd.port, ...[...this.proxies.values()].map((p) => p.port)];
    fs.writeFileSync(this.knownHosts, ports.map((port) => `[127.0.0.1]:${port} ${hostKey}\n`).join(''));

    await this.startRclone();
    await this.removeOwnVolumes();
  }

  get knownHosts(): string {
    return path.join(this.clientDir, 'known_hosts');
  }

  get clientKey(): string {
    return path.join(this.clientDir, 'id');
  }

  /** Port a client uses to reach the sshd at this round-trip time (0: directly). */
  port(rtt: number): number {
    if (rtt === 0) return this.sshd.port;
    const proxy = this.proxies.get(rtt);
    if (proxy === undefined) throw new Error(`no proxy for RTT ${rtt} ms`);
    return proxy.port;
  }

  async docker(args: readonly string[], options: RunOptions & { allowFail?: boolean } = {}): Promise<RunResult> {
    const result = await run('docker', args, { ...options, env: this.env });
    if (result.code !== 0 && result.stderr.includes('Cannot connect to the Docker daemon') && !this.stopping) {
      throw new EngineGone(`the engine in ${this.engineDir} stopped answering (see ${this.engineLog}); rerun with --resume`);
    }
    if (result.code !== 0 && options.allowFail !== true) {
      const shown = args.map((a) => (a.includes('\n') ? '<script>' : a)).join(' ');
      throw new Error(`docker ${shown} exited ${String(result.code)}: ${(result.stderr || result.stdout).trim().slice(-1500)}`);
    }
    return result;
  }

  /** A request to the engine's API on its socket (no CLI start-up in the figure). */
  api(method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: string; ms: number }> {
    const payload = body === undefined ? '' : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const request = http.request(
        {
          socketPath: path.join(this.engineDir, 'docker.sock'),
          method,
          path: urlPath,
          headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
        },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => {
            const ms = performance.now() - started;
            const status = response.statusCode ?? 0;
            if (status >= 300) reject(new Error(`${method} ${urlPath}: ${status} ${text.slice(0, 500)}`));
            else resolve({ status, body: text, ms });
          });
        },
      );
      request.on('error', reject);
      request.end(payload);
    });
  }

  // ------------------------------------------------------------------ volumes per peer

  /** `docker volume create` arguments (after `create`) for a volume of this peer. */
  createArgs(peer: 'local-driver' | 'ours-local' | 'ours-sftp' | 'rclone', name: string, rtt = 0): string[] {
    switch (peer) {
      case 'local-driver':
        return [name];
      case 'ours-local':
        return ['-d', PLUGIN, '-o', 'backend=local', name];
      case 'ours-sftp':
        return ['-d', PLUGIN, ...this.oursSftpOptions(name, rtt).flatMap((o) => ['-o', o]), name];
      case 'rclone':
        return ['-d', RCLONE_DRIVER, ...this.rcloneOptions(name, rtt).flatMap((o) => ['-o', o]), name];
    }
  }

  /** The same as createArgs, as an API body for POST /volumes/create. */
  createBody(peer: 'local-driver' | 'ours-local' | 'ours-sftp' | 'rclone', name: string, rtt = 0): Record<string, unknown> {
    const opts = (list: string[]): Record<string, string> => Object.fromEntries(list.map((o) => [o.slice(0, o.indexOf('=')), o.slice(o.indexOf('=') + 1)]));
    switch (peer) {
      case 'local-driver':
        return { Name: name };
      case 'ours-local':
        return { Name: name, Driver: PLUGIN, DriverOpts: { backend: 'local' } };
      case 'ours-sftp':
        return { Name: name, Driver: PLUGIN, DriverOpts: opts(this.oursSftpOptions(name, rtt)) };
      case 'rclone':
        return { Name: name, Driver: RCLONE_DRIVER, DriverOpts: opts(this.rcloneOptions(name, rtt)) };
    }
  }

  /** Server-side directory of an SFTP volume of the benchmark. */
  remoteDir(name: string): string {
    return this.sshd.serverPath(name);
  }

  private oursSftpOptions(name: string, rtt: number): string[] {
    return [
      'host=127.0.0.1',
      `port=${this.port(rtt)}`,
      `user=${this.sshd.user}`,
      `identity=${KEY_NAME}`,
      `hostkey=${this.sshd.hostKeyFingerprint}`,
      `path=${this.remoteDir(name)}`,
    ];
  }

  private rcloneOptions(name: string, rtt: number): string[] {
    // rclone does not create the remote directory at Create: it must exist first
    // (callers use prepareRcloneDir). Defaults otherwise: no VFS cache.
    return [
      'type=sftp',
      'sftp-host=127.0.0.1',
      `sftp-port=${this.port(rtt)}`,
      `sftp-user=${this.sshd.user}`,
      `sftp-key-file=${this.clientKey}`,
      `sftp-known-hosts-file=${this.knownHosts}`,
      `path=${this.remoteDir(name)}`,
    ];
  }

  async prepareRemoteDir(name: string): Promise<void> {
    await this.sshd.mkdirAsUser(name);
  }

  /** A data-path target backed by a named volume of this peer. */
  async volumeTarget(peer: 'local-driver' | 'ours-local' | 'ours-sftp' | 'rclone', rtt: number): Promise<Target> {
    const name = `${PREFIX}-data-${peer}-${rtt}`;
    if (peer === 'rclone') await this.prepareRemoteDir(name);
    await this.docker(['volume', 'create', ...this.createArgs(peer, name, rtt)]);
    let hostDir: string;
    if (peer === 'local-driver') hostDir = (await this.docker(['volume', 'inspect', '-f', '{{.Mountpoint}}', name])).stdout.trim();
    else if (peer === 'ours-local') hostDir = path.join(this.dataSource, 'volumes', name);
    else hostDir = this.remoteDir(name);
    return { peer, rtt, arg: name, hostDir };
  }

  /** A data-path target backed by a raw sshfs mount on the host, bind-mounted into containers. */
  async sshfsTarget(peer: 'sshfs-defaults' | 'sshfs-best' | 'sshfs-best-ra', rtt: number): Promise<Target> {
    const name = `${PREFIX}-data-${peer}-${rtt}`;
    await this.prepareRemoteDir(name);
    const mountpoint = path.join(this.options.dir, 'mnt', `${peer}-${rtt}`);
    fs.mkdirSync(mountpoint, { recursive: true });
    const options = [`IdentityFile=${this.clientKey}`, `UserKnownHostsFile=${this.knownHosts}`, 'StrictHostKeyChecking=yes', 'BatchMode=yes'];
    if (peer !== 'sshfs-defaults') options.push('Ciphers=aes128-gcm@openssh.com', 'max_conns=4');
    await runOk('sshfs', [`${this.sshd.user}@127.0.0.1:${this.remoteDir(name)}`, mountpoint, '-p', String(this.port(rtt)), '-o', options.join(',')]);
    this.rawMounts.push(mountpoint);
    if (peer === 'sshfs-best-ra') {
      const dev = (await runOk('mountpoint', ['-d', mountpoint])).stdout.trim();
      fs.writeFileSync(`/sys/class/bdi/${dev}/read_ahead_kb`, String(READ_AHEAD_KB));
    }
    return { peer, rtt, arg: mountpoint, hostDir: this.remoteDir(name) };
  }

  // ------------------------------------------------------------------ the plugin's own view

  get engineLog(): string {
    return path.join(this.engineDir, 'dockerd.log');
  }

  /** Current size of the engine's log, to read the plugin's lines written after it. */
  engineLogOffset(): number {
    try {
      return fs.statSync(this.engineLog).size;
    } catch {
      return 0;
    }
  }

  /**
   * The plugin logs one JSON line per VolumeDriver call with its own duration; the engine
   * copies it into its log as msg="...". Returns those written since `offset`.
   */
  pluginCalls(offset: number): { call: string; volume: string; ms: number }[] {
    let text: string;
    try {
      text = readFileFrom(this.engineLog, offset);
    } catch {
      return [];
    }
    const out: { call: string; volume: string; ms: number }[] = [];
    for (const line of text.split('\n')) {
      const match = /msg="((?:[^"\\]|\\.)*)"/.exec(line);
      if (match === null || !match[1]!.includes('durationMs')) continue;
      try {
        const entry = JSON.parse(JSON.parse(`"${match[1]!}"`) as string) as { msg?: string; call?: string; volume?: string; durationMs?: number };
        if (entry.msg === 'call' && typeof entry.call === 'string' && typeof entry.durationMs === 'number') {
          out.push({ call: entry.call.replace('/VolumeDriver.', ''), volume: entry.volume ?? '', ms: entry.durationMs });
        }
      } catch {
        // not one of the plugin's lines
      }
    }
    return out;
  }

  /** Host-side reference: how long a raw sshfs mount (best options) and its unmount take. */
  async timeRawSshfsMount(): Promise<{ mount: number; unmount: number }> {
    const name = `${PREFIX}-rawmount`;
    await this.prepareRemoteDir(name);
    const mountpoint = path.join(this.options.dir, 'mnt', 'rawmount');
    fs.mkdirSync(mountpoint, { recursive: true });
    const options = [`IdentityFile=${this.clientKey}`, `UserKnownHostsFile=${this.knownHosts}`, 'StrictHostKeyChecking=yes', 'BatchMode=yes', 'Ciphers=aes128-gcm@openssh.com', 'max_conns=4'];
    const started = performance.now();
    await runOk('sshfs', [`${this.sshd.user}@127.0.0.1:${this.remoteDir(name)}`, mountpoint, '-p', String(this.sshd.port), '-o', options.join(',')]);
    await runOk('stat', ['-c', '%F', mountpoint]);
    const mount = performance.now() - started;
    const unmount = (await runOk('fusermount3', ['-u', mountpoint])).ms;
    return { mount, unmount };
  }

  /** read_ahead_kb of every sshfs mount the plugin has made (seen from the host), by device. */
  async oursReadAhead(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const { device, mountPoint, fsType } of await readMounts()) {
      if (fsType !== 'fuse.sshfs' || !mountPoint.startsWith(`${this.engineDir}/`) || out.has(device)) continue;
      try {
        out.set(device, Number(fs.readFileSync(`/sys/class/bdi/${device}/read_ahead_kb`, 'utf8')));
      } catch {
        // gone
      }
    }
    return out;
  }

  /** The -o options of one sshfs process the plugin runs, as the kernel shows its argv. */
  async oursSshfsOptions(): Promise<string | undefined> {
    const { helpers } = await this.pluginPids();
    for (const pid of helpers) {
      try {
        const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        if (path.basename(argv[0] ?? '') !== 'sshfs') continue;
        const i = argv.indexOf('-o');
        return i >= 0 ? argv[i + 1] : '';
      } catch {
        // gone
      }
    }
    return undefined;
  }

  // ------------------------------------------------------------------ processes to measure

  /** PID of the plugin's node process: below the containerd shim that runs the plugin. */
  async pluginPids(): Promise<{ node: number; helpers: number[] }> {
    const id = (await this.docker(['plugin', 'inspect', '-f', '{{.Id}}', PLUGIN])).stdout.trim();
    const all = processes();
    const shim = all.find((p) => p.comm.startsWith('containerd-shim') && p.cmdline.includes(id));
    if (shim === undefined) throw new Error(`no containerd shim runs plugin ${id}`);
    const tree = descendants(shim.pid, all);
    const node = tree.find((p) => p.comm === 'node');
    if (node === undefined) throw new Error(`no node process below the shim of plugin ${id}`);
    return { node: node.pid, helpers: descendants(node.pid, all).map((p) => p.pid) };
  }

  rclonePid(): number {
    const pid = this.rclone?.pid;
    if (pid === undefined) throw new Error('rclone is not running');
    return pid;
  }

  /** RSS (MB) of the plugin's node process and the sum over its sshfs/ssh children. */
  async pluginRss(): Promise<{ node: number; helpers: number }> {
    const { node, helpers } = await this.pluginPids();
    return { node: rssMB(node), helpers: helpers.map(rssMB).filter(Number.isFinite).reduce((a, b) => a + b, 0) };
  }

  // ------------------------------------------------------------------ helpers started here

  private async startProxy(rtt: number): Promise<void> {
    const { port, child } = await startLatencyProxy(`127.0.0.1:${this.sshd.port}`, rtt);
    this.proxies.set(rtt, { port, child });
    log(`latency proxy: RTT ${rtt} ms on port ${port}`);
  }

  private async startRclone(): Promise<void> {
    const base = path.join(this.options.dir, 'rclone');
    fs.rmSync(path.join(base, 'cache'), { recursive: true, force: true }); // its state file: start empty
    for (const sub of ['vols', 'cache', 'conf']) fs.mkdirSync(path.join(base, sub), { recursive: true });
    fs.writeFileSync(path.join(base, 'conf', 'rclone.conf'), '');
    if (fs.existsSync(this.rcloneSocket)) fs.rmSync(this.rcloneSocket);
    const out = fs.openSync(path.join(base, 'rclone.log'), 'a');
    this.rclone = spawn(
      'setpriv',
      ['--pdeathsig', 'TERM', '--', 'rclone', 'serve', 'docker', '--socket-addr', this.rcloneSocket, '--base-dir', path.join(base, 'vols'),
        '--cache-dir', path.join(base, 'cache'), '--config', path.join(base, 'conf', 'rclone.conf'), '--no-spec', '--forget-state'],
      { stdio: ['ignore', out, out] },
    );
    fs.closeSync(out);
    for (let i = 0; !fs.existsSync(this.rcloneSocket); i += 1) {
      if (i > 200 || this.rclone.exitCode !== null) throw new Error(`rclone serve docker did not start; see ${path.join(base, 'rclone.log')}`);
      await sleep(50);
    }
    log(`rclone serve docker on ${this.rcloneSocket} (driver ${RCLONE_DRIVER})`);
  }

  /** Removes every volume of the benchmark (left by an interrupted run, or made by this one). */
  async removeOwnVolumes(): Promise<void> {
    const limit = { allowFail: true, timeoutMs: 150_000 };
    const containers = (await this.docker(['ps', '-aq', '--filter', `label=${PREFIX}`], limit)).stdout.split('\n').filter(Boolean);
    // One at a time: rclone serve docker was seen to hang for good when several of its
    // volumes were unmounted at once (every later call then times out after a minute).
    for (const id of containers) await this.docker(['rm', '-f', id], limit);
    const names = (await this.docker(['volume', 'ls', '-q'], limit)).stdout.split('\n').filter((n) => n.startsWith(PREFIX));
    for (let i = 0; i < names.length; i += 50) {
      const r = await this.docker(['volume', 'rm', '-f', ...names.slice(i, i + 50)], limit);
      if (r.code !== 0) log(`docker volume rm: ${r.stderr.trim().split('\n')[0] ?? ''}`);
    }
  }

  /** True when rclone answers a VolumeDriver call on its socket within `ms`. */
  rcloneAnswers(ms = 10_000): Promise<boolean> {
    return new Promise((resolve) => {
      const request = http.request({ socketPath: this.rcloneSocket, method: 'POST', path: '/VolumeDriver.List', timeout: ms }, (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode === 200));
      });
      request.on('timeout', () => {
        request.destroy();
        resolve(false);
      });
      request.on('error', () => resolve(false));
      request.end('{}');
    });
  }

  // ------------------------------------------------------------------ the end

  async stop(options: { keepEngine: boolean }): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    log('stopping everything the benchmark started');
    const step = async (what: string, fn: () => unknown): Promise<void> => {
      try {
        await fn();
      } catch (error) {
        log(`clean-up: ${what}: ${(error as Error).message}`);
      }
    };
    if (fs.existsSync(path.join(this.engineDir, 'docker.sock'))) await step('volumes', () => this.removeOwnVolumes());
    for (const mountpoint of this.rawMounts) {
      await step(`unmount ${mountpoint}`, async () => {
        if ((await run('fusermount3', ['-u', mountpoint])).code !== 0) await run('fusermount3', ['-u', '-z', mountpoint]);
      });
    }
    const rclone = this.rclone;
    if (rclone !== undefined && rclone.exitCode === null) {
      await step('rclone', async () => {
        const exited = new Promise((resolve) => rclone.once('exit', resolve));
        rclone.kill('SIGTERM');
        await Promise.race([exited, sleep(10_000)]);
        if (rclone.exitCode === null && rclone.signalCode === null) rclone.kill('SIGKILL');
      });
    }
    await step('rclone socket', () => fs.rmSync(this.rcloneSocket, { force: true }));
    for (const { child } of this.proxies.values()) child.kill('SIGTERM');
    if (this.sshd !== undefined) await step('sshd', () => this.sshd.stop());
    if (!options.keepEngine) {
      await step('plugin', async () => {
        await this.docker(['plugin', 'disable', '-f', PLUGIN], { allowFail: true });
        await this.docker(['plugin', 'rm', '-f', PLUGIN], { allowFail: true });
      });
      await step('engine', () => runOk(path.join(REPO, 'scripts/engine'), ['purge', this.engineDir]));
    }
    // Whatever is still mounted below the benchmark's directory (a killed rclone, sshfs).
    await step('leftover mounts', () => unmountUnder(this.options.dir, options.keepEngine ? [this.engineDir] : []));
    if (!options.keepEngine) await step('directory', () => fs.rmSync(this.options.dir, { recursive: true, force: true }));
  }
}
