/**
 * One private Docker Engine started with scripts/engine, driven through the docker CLI
 * with DOCKER_HOST set (execFile style: argument arrays only).
 */
import fs from 'node:fs';
import path from 'node:path';
import { cancelOnExit, onExit } from './cleanup';
import { run, runOk, runSyncQuiet, type ProcOptions, type ProcResult, ProcError, describeCommand } from './proc';

export const REPO = path.resolve(__dirname, '..', '..', '..');
export const SCRIPTS = path.join(REPO, 'scripts');
/** The static busybox image made by scripts/base-image. */
export const BUSYBOX = 'dvs-busybox:latest';
/** The alias every engine knows the plugin by. */
export const PLUGIN = 'sftp';
/** The plugin's name as the engine reports it (Driver of its volumes). */
export const PLUGIN_FULL_NAME = `${PLUGIN}:latest`;

export interface VolumeInspect {
  Name: string;
  Driver: string;
  Mountpoint: string;
  CreatedAt: string;
  Scope: string;
  Options: Record<string, string> | null;
  Labels: Record<string, string> | null;
  Status?: Record<string, unknown>;
}

export interface PluginInspect {
  Id: string;
  Name: string;
  Enabled: boolean;
  PluginReference: string;
  Settings: { Mounts: { Name: string; Source: string | null }[]; Env: string[] };
  Config: { Interface: { Socket: string } };
}

/** How scripts/engine starts dockerd. */
export interface EngineOptions {
  /** Added to dockerd's environment (e.g. DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 for swarm tasks). */
  env?: Record<string, string>;
  /**
   * A Debian suite (e.g. `trixie`): the engine is that release's docker.io, chrooted in a
   * Debian root unpacked into DIR/root (scripts/engine with ENGINE_DEBIAN). Paths the engine
   * resolves (plugin data sources, its data-root, plugin sockets) are then inside that root.
   */
  debian?: string;
}

export class Engine {
  private _host: string | undefined;

  /** `name` is for messages; `dir` is the engine's DIR (at most 64 bytes). */
  constructor(
    readonly name: string,
    readonly dir: string,
    /** Where logs are copied before the dir is purged. */
    readonly logDir: string,
    readonly options: EngineOptions = {},
  ) {}

  get host(): string {
    if (this._host === undefined) throw new Error(`engine ${this.name} is not started`);
    return this._host;
  }

  /** Where the engine's own / is on this machine: '' for an engine of this machine. */
  get root(): string {
    return this.options.debian === undefined ? '' : path.join(this.dir, 'root');
  }

  /** A path as the engine (and its plugin mounts) sees it, as a path on this machine. */
  hostPath(enginePath: string): string {
    return this.root === '' ? enginePath : path.join(this.root, enginePath);
  }

  get logPath(): string {
    return path.join(this.dir, 'dockerd.log');
  }

  /** Environment for a child process that talks to this engine. */
  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return { ...process.env, DOCKER_HOST: this.host, ...(this.root === '' ? {} : { DVS_ENGINE_ROOT: this.root }), ...extra };
  }

  async start(): Promise<void> {
    onExit(`engine:${this.dir}`, () => this.purgeSync());
    // scripts/engine hands it on to dockerd
    const env = { ...process.env, ...(this.options.env ?? {}), ...(this.options.debian === undefined ? {} : { ENGINE_DEBIAN: this.options.debian }) };
    const out = await runOk(path.join(SCRIPTS, 'engine'), ['start', this.dir], { timeoutMs: 120_000, env });
    const host = out.trim().split('\n').pop() ?? '';
    if (!host.startsWith('unix://')) throw new Error(`scripts/engine start ${this.dir} printed ${JSON.stringify(out)}`);
    this._host = host;
  }

  /** scripts/engine stop: dockerd shuts down (containers, plugins) and is waited for. */
  async stop(): Promise<void> {
    await runOk(path.join(SCRIPTS, 'engine'), ['stop', this.dir], { timeoutMs: 150_000 });
  }

  /** Copies the engine log to logDir, then scripts/engine purge (stop, unmount, delete DIR). */
  async purge(): Promise<void> {
    this.saveLog();
    await runOk(path.join(SCRIPTS, 'engine'), ['purge', this.dir], { timeoutMs: 150_000 });
    cancelOnExit(`engine:${this.dir}`);
  }

  private purgeSync(): void {
    this.saveLog();
    runSyncQuiet(path.join(SCRIPTS, 'engine'), ['purge', this.dir]);
  }

  private saveLog(): void {
    try {
      fs.mkdirSync(this.logDir, { recursive: true });
      fs.copyFileSync(this.logPath, path.join(this.logDir, `dockerd-${this.name}.log`));
    } catch {
      /* no log yet */
    }
  }

  /** The engine log (the plugin's stdout/stderr go there too). */
  log(): string {
    try {
      return fs.readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  // ------------------------------------------------------------------ CLI

  docker(args: readonly string[], opts: ProcOptions = {}): Promise<ProcResult> {
    return run('docker', args, { timeoutMs: 180_000, ...opts, env: { ...this.env(), ...(opts.env ?? {}) } });
  }

  /** docker ARGS; throws (with stderr) unless it exits 0; returns stdout. */
  async dockerOk(args: readonly string[], opts: ProcOptions = {}): Promise<string> {
    const result = await this.docker(args, opts);
    if (result.code !== 0) throw new ProcError(`[${this.name}] ${describeCommand('docker', args)}`, result);
    return result.stdout;
  }

  /** scripts/NAME ARGS against this engine; returns stdout. */
  script(name: string, args: readonly string[], extraEnv: Record<string, string> = {}, timeoutMs = 600_000): Promise<string> {
    return runOk(path.join(SCRIPTS, name), args, { env: this.env(extraEnv), timeoutMs });
  }

  /**
   * ARGS run inside the engine's Debian root with that release's own tools (its docker CLI
   * talks to the engine at the default socket); an engine of this machine has none.
   */
  inRoot(args: readonly string[], opts: ProcOptions = {}): Promise<ProcResult> {
    if (this.root === '') throw new Error(`engine ${this.name} runs on this machine, not in a Debian root`);
    const env: NodeJS.ProcessEnv = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', ...(opts.env ?? {}) };
    return run('chroot', [this.root, ...args], { timeoutMs: 180_000, ...opts, env });
  }

  // ------------------------------------------------------------------ containers

  /** `docker run --rm --network none ARGS busybox sh -c SCRIPT`; stdout. */
  runContainer(args: readonly string[], script: string, timeoutMs = 120_000): Promise<string> {
    return this.dockerOk(['run', '--rm', '--network', 'none', ...args, BUSYBOX, 'sh', '-c', script], { timeoutMs });
  }

  /** `docker run -d --name NAME --network none ARGS busybox sh -c SCRIPT`. */
  async startContainer(name: string, args: readonly string[], script: string): Promise<void> {
    await this.dockerOk(['run', '-d', '--name', name, '--network', 'none', ...args, BUSYBOX, 'sh', '-c', script]);
  }

  exec(container: string, script: string, args: readonly string[] = []): Promise<string> {
    return this.dockerOk(['exec', ...args, container, 'sh', '-c', script]);
  }

  async removeContainer(...names: string[]): Promise<void> {
    if (names.length === 0) return;
    await this.docker(['rm', '-f', ...names]);
  }

  async isRunning(container: string): Promise<boolean> {
    const r = await this.docker(['inspect', '-f', '{{.State.Running}}', container]);
    return r.code === 0 && r.stdout.trim() === 'true';
  }

  // ------------------------------------------------------------------ volumes and plugin

  /** `docker volume create -d sftp -o K=V ... NAME`. */
  async createVolume(name: string, options: Record<string, string> = {}): Promise<void> {
    const args = ['volume', 'create', '-d', PLUGIN];
    for (const [k, v] of Object.entries(options)) args.push('-o', `${k}=${v}`);
    const out = await this.dockerOk([...args, name]);
    if (out.trim() !== name) throw new Error(`docker volume create printed ${JSON.stringify(out)}, expected ${name}`);
  }

  async volumeInspect(name: string): Promise<VolumeInspect> {
    const list = JSON.parse(await this.dockerOk(['volume', 'inspect', name])) as VolumeInspect[];
    const first = list[0];
    if (first === undefined) throw new Error(`docker volume inspect ${name} returned nothing`);
    return first;
  }

  /**
   * Names from `docker volume ls` of one driver (default: our plugin). Unfiltered lists are
   * not ours alone: every engine on the host also lists the volumes of legacy plugins whose
   * sockets sit in /run/docker/plugins (e.g. another user's `rclone serve docker`).
   */
  async volumeNames(driver: string | null = PLUGIN_FULL_NAME): Promise<string[]> {
    const args = ['volume', 'ls', '--format', '{{.Name}}'];
    if (driver !== null) args.push('--filter', `driver=${driver}`);
    return (await this.dockerOk(args)).split('\n').filter(Boolean).sort();
  }

  async pluginInspect(name = PLUGIN): Promise<PluginInspect> {
    const list = JSON.parse(await this.dockerOk(['plugin', 'inspect', name])) as PluginInspect[];
    const first = list[0];
    if (first === undefined) throw new Error(`docker plugin inspect ${name} returned nothing`);
    return first;
  }

  /** Host path of the plugin's socket (moby: the plugin exec root is /run/docker/plugins). */
  async pluginSocket(name = PLUGIN): Promise<string> {
    const p = await this.pluginInspect(name);
    return this.hostPath(path.join('/run/docker/plugins', p.Id, p.Config.Interface.Socket));
  }

  /** Host path of the plugin's rootfs below this engine's data-root. */
  async pluginRootfs(name = PLUGIN): Promise<string> {
    const p = await this.pluginInspect(name);
    return this.root === '' ? path.join(this.dir, 'data', 'plugins', p.Id, 'rootfs') : this.hostPath(path.join('/var/lib/docker/plugins', p.Id, 'rootfs'));
  }
}
