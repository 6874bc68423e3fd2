import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseMountinfo } from '../../src/system/mountinfo';
import { EngineClient } from './engine-client';

const ROOT = path.resolve(__dirname, '..', '..');
export const MAIN = path.join(ROOT, 'dist', 'main.js');

/**
 * The node flags of the plugin's entrypoint (config.json): tests and benchmarks run the
 * daemon with them, so what they measure is what ships (a 2 MB semi-space is ~30 MB of RSS).
 */
export const NODE_FLAGS: readonly string[] = shippedNodeFlags();

function shippedNodeFlags(): string[] {
  const { entrypoint } = JSON.parse(fs.readFileSync(path.join(ROOT, 'config.json'), 'utf8')) as { entrypoint: string[] };
  const node = entrypoint.indexOf('node');
  if (node === -1 || entrypoint.at(-1) !== '/app/dist/main.js') throw new Error(`config.json: unexpected entrypoint ${JSON.stringify(entrypoint)}`);
  return entrypoint.slice(node + 1, -1);
}

export interface DaemonDirs {
  base: string;
  socket: string;
  dataDir: string;
  mountRoot: string;
  runDir: string;
}

/** A fresh set of directories for one daemon ("one host"). */
export function makeDirs(prefix = 'dvs'): DaemonDirs {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  return { base, socket: path.join(base, 'p.sock'), dataDir: path.join(base, 'data'), mountRoot: path.join(base, 'mnt'), runDir: path.join(base, 'run') };
}

/**
 * The real daemon, `node dist/main.js`, as a child process driven through its socket.
 * Tests use it for everything that crosses the process: restarts, kill -9, signals, logs.
 */
export class DaemonProcess {
  child: ChildProcess | null = null;
  output = '';
  client: EngineClient;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> = Promise.resolve({ code: null, signal: null });

  constructor(
    readonly dirs: DaemonDirs,
    readonly env: Record<string, string> = {},
    /** The daemon's entry point: this checkout's build, or another (benchmarks compare builds). */
    private readonly main = MAIN,
  ) {
    this.client = new EngineClient(dirs.socket);
  }

  static async start(dirs = makeDirs(), env: Record<string, string> = {}): Promise<DaemonProcess> {
    const daemon = new DaemonProcess(dirs, env);
    await daemon.start();
    return daemon;
  }

  /** Spawns without waiting for the socket; for tests that expect the start to fail. */
  spawn(): void {
    this.output = '';
    const child = spawn(process.execPath, [...NODE_FLAGS, this.main], {
      env: {
        PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
        PLUGIN_SOCKET: this.dirs.socket,
        PLUGIN_DATA_DIR: this.dirs.dataDir,
        PLUGIN_MOUNT_ROOT: this.dirs.mountRoot,
        PLUGIN_RUN_DIR: this.dirs.runDir,
        LOG_LEVEL: 'info',
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    this.exit = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    this.child = child;
  }

  async start(): Promise<void> {
    this.spawn();
    const deadline = Date.now() + 10_000;
    for (;;) {
      const exited = await Promise.race([this.exit, delay(50).then(() => null)]);
      if (exited !== null) throw new Error(`daemon exited during start (${JSON.stringify(exited)}):\n${this.output}`);
      try {
        await this.client.call('/Plugin.Activate');
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`daemon did not answer within 10 s:\n${this.output}`);
      }
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.client.close();
    if (this.child === null || this.child.exitCode !== null || this.child.signalCode !== null) return this.exit;
    this.child.kill(signal);
    const result = await this.exit;
    this.client = new EngineClient(this.dirs.socket);
    return result;
  }

  kill9(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.stop('SIGKILL');
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** The first log line matching `predicate`, waiting for the pipe to deliver it. */
  async waitForLog(predicate: (entry: Record<string, unknown>) => boolean, timeoutMs = 3000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.logLines().find(predicate);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no matching log line within ${timeoutMs} ms:\n${this.output}`);
      await delay(20);
    }
  }

  logLines(): Record<string, unknown>[] {
    return this.output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }
}

export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Mount points at or under `dir`, from the kernel's table (synchronous: cleanup runs in after hooks). */
export function mountsUnder(dir: string): string[] {
  return parseMountinfo(fs.readFileSync('/proc/self/mountinfo', 'utf8'))
    .map((entry) => entry.mountPoint)
    .filter((mountPoint) => mountPoint === dir || mountPoint.startsWith(`${dir}/`));
}

/** Unmounts anything a test left under `dir` (deepest first) and deletes the directory. */
export function cleanup(dir: string): void {
  for (const mountPoint of mountsUnder(dir).sort().reverse()) {
    spawnSync('umount', ['-l', mountPoint], { stdio: 'ignore' });
  }
  fs.rmSync(dir, { recursive: true, force: true });
}
