/**
 * Everything the end-to-end cases share, started lazily and once: the SFTP server
 * (TestSshd), engine A with the plugin built from the Dockerfile by scripts/install, a local
 * registry holding that same build (scripts/push from A, using A's build cache), and
 * engine B with the plugin installed from the registry. dispose() stops all of it.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { KEY_NAME, PASSWORD_FILE } from '../../support/sftp-fixtures';
import { removeStaleLegacySockets } from '../../support/legacy-plugin-sockets';
import { TestSshd } from '../../support/sshd';
import { cancelOnExit, onExit } from './cleanup';
import { Engine, PLUGIN, SCRIPTS, type EngineOptions } from './engine';
import { runOk, runSyncQuiet } from './proc';
import { Timings } from './timings';

/** All engines, the registry and plugin data live here (short: socket paths below it are limited). */
export const ROOT = process.env.DVS_E2E_ROOT ?? '/run/dvs-e2e';
/** Engine logs are copied here before their dirs are purged. */
export const LOG_DIR = process.env.DVS_E2E_LOG_DIR ?? '/tmp/dvs-e2e-logs';

export { KEY_NAME, PASSWORD_FILE };

export class World {
  readonly timings = new Timings();
  readonly engines: Engine[] = [];
  private sshdP: Promise<TestSshd> | undefined;
  private engineAP: Promise<Engine> | undefined;
  private engineBP: Promise<Engine> | undefined;
  private registryP: Promise<string> | undefined;
  private baseRefP: Promise<string> | undefined;
  private prepared = false;
  private legacySocketsChecked: Promise<unknown> | undefined;

  /** Plugin data source (the "data" mount's source, as the engine resolves it) of an engine. */
  static dataDir(engine: Engine): string {
    return path.join(ROOT, `data-${engine.name}`);
  }

  /** The same directory as a path on this machine (inside the Debian root of a chrooted engine). */
  static hostDataDir(engine: Engine): string {
    return engine.hostPath(World.dataDir(engine));
  }

  /**
   * Which engines the tier runs on: `debian12` (default) is this machine's docker.io
   * (Debian 12: 20.10); `debian13` is Debian 13's docker.io (26.1) chrooted in a
   * debootstrapped trixie root (DVS_E2E_ENGINE=debian13); `arm64` runs the arm64 plugin
   * under emulation on this machine's engine (DVS_E2E_ENGINE=arm64).
   */
  static readonly flavour: 'debian12' | 'debian13' | 'arm64' =
    process.env.DVS_E2E_ENGINE === 'debian13' ? 'debian13' : process.env.DVS_E2E_ENGINE === 'arm64' ? 'arm64' : 'debian12';

  /** Engine options of the tier's flavour, merged with `options`. */
  static engineOptions(options: EngineOptions = {}): EngineOptions {
    return World.flavour === 'debian13' ? { debian: 'trixie', ...options } : options;
  }

  sshd(): Promise<TestSshd> {
    this.sshdP ??= this.timings.measure('setup: sshd', () => TestSshd.start());
    return this.sshdP;
  }

  /** Engine A: base images, then the real Dockerfile built and installed by scripts/install. */
  engineA(): Promise<Engine> {
    this.engineAP ??= this.timings.measure('setup: engine A + scripts/base-image + scripts/install (build)', async () => {
      const engine = await this.newEngine('a');
      await engine.script('base-image', ['all']);
      const data = World.dataDir(engine);
      await engine.script('install', [], { PLUGIN_DATA_SOURCE: data, PLUGIN_NAME: PLUGIN, DEMO_VOLUME: '' }, 900_000);
      await this.writeCredentials(World.hostDataDir(engine));
      return engine;
    });
    return this.engineAP;
  }

  /** Engine B: a second "host", plugin installed from the registry (same build as A). */
  engineB(): Promise<Engine> {
    this.engineBP ??= (async () => {
      const ref = await this.baseRef();
      return this.timings.measure('setup: engine B + docker plugin install from registry', async () => {
        const engine = await this.newEngine('b');
        await engine.script('base-image', ['busybox']);
        await this.installFromRegistry(engine, ref);
        return engine;
      });
    })();
    return this.engineBP;
  }

  /** A local registry (scripts/registry) on a free port; resolves to localhost:PORT. */
  registry(): Promise<string> {
    this.registryP ??= this.timings.measure('setup: registry', async () => {
      this.prepare();
      const dir = path.join(ROOT, 'reg');
      onExit('registry', () => runSyncQuiet(path.join(SCRIPTS, 'registry'), ['stop', dir]));
      const port = await freePort();
      const out = await runOk(path.join(SCRIPTS, 'registry'), ['start', dir, String(port)], { timeoutMs: 60_000 });
      return out.trim().split('\n').pop() ?? `localhost:${port}`;
    });
    return this.registryP;
  }

  /** The build installed on A, pushed to the registry by scripts/push (A's build cache). */
  baseRef(): Promise<string> {
    this.baseRefP ??= (async () => {
      const [a, registry] = await Promise.all([this.engineA(), this.registry()]);
      return this.timings.measure('setup: scripts/push (A, cached build)', async () => {
        const out = await a.script('push', ['e2e-base'], { REGISTRY: registry, DVS_IMAGE: 'docker-volume-sftp:e2e-base' });
        const ref = out.trim().split('\n').pop() ?? '';
        if (!ref.startsWith(registry)) throw new Error(`scripts/push printed ${JSON.stringify(out)}`);
        return ref;
      });
    })();
    return this.baseRefP;
  }

  /** A fresh engine named `name` in ROOT/name; purged by dispose() (and on exit). */
  async newEngine(name: string, options: EngineOptions = {}): Promise<Engine> {
    this.prepare();
    // A dead legacy plugin socket on the host would add ~15 s to many engine calls below.
    this.legacySocketsChecked ??= removeStaleLegacySockets((line) => console.log(`      [e2e] ${line}`));
    await this.legacySocketsChecked;
    const engine = new Engine(name, path.join(ROOT, name), LOG_DIR, World.engineOptions(options));
    this.engines.push(engine);
    await engine.start();
    return engine;
  }

  /** `docker plugin install --alias sftp --grant-all-permissions REF data.source=DIR`, then keys. */
  async installFromRegistry(engine: Engine, ref: string): Promise<void> {
    const data = World.dataDir(engine);
    fs.mkdirSync(path.join(World.hostDataDir(engine), 'keys'), { recursive: true, mode: 0o700 });
    await engine.dockerOk(['plugin', 'install', '--alias', PLUGIN, '--grant-all-permissions', ref, `data.source=${data}`], {
      timeoutMs: 300_000,
    });
    await this.writeCredentials(World.hostDataDir(engine));
  }

  /** The test server's client key (id_test) and password file in DIR/keys (DIR on this machine), mode 0600. */
  async writeCredentials(dataDir: string): Promise<void> {
    const sshd = await this.sshd();
    const keys = path.join(dataDir, 'keys');
    await sshd.writeClientKeyInto(keys, KEY_NAME);
    fs.writeFileSync(path.join(keys, PASSWORD_FILE), `${sshd.password}\n`, { mode: 0o600 });
  }

  /** Removes one engine (logs kept in LOG_DIR). */
  async disposeEngine(engine: Engine): Promise<void> {
    const i = this.engines.indexOf(engine);
    if (i >= 0) this.engines.splice(i, 1);
    await engine.purge();
  }

  /** Stops and removes everything; runs every step even when one fails. */
  async dispose(): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (fn: () => unknown): Promise<void> => {
      try {
        await fn();
      } catch (e) {
        errors.push(e);
      }
    };
    for (const engine of [...this.engines].reverse()) await attempt(() => this.disposeEngine(engine));
    if (this.registryP !== undefined) {
      await attempt(async () => {
        await runOk(path.join(SCRIPTS, 'registry'), ['stop', path.join(ROOT, 'reg')], { timeoutMs: 60_000 });
        cancelOnExit('registry');
      });
    }
    if (this.sshdP !== undefined) await attempt(async () => (await this.sshdP)?.dispose());
    if (this.prepared && process.env.DVS_E2E_KEEP !== '1' && errors.length === 0) {
      await attempt(() => fs.rmSync(ROOT, { recursive: true, force: true }));
      cancelOnExit('root');
    }
    if (errors.length > 0) throw new Error(`cleanup failed:\n${errors.map((e) => (e instanceof Error ? e.message : String(e))).join('\n')}`);
  }

  /** Once: clear what an aborted earlier run may have left in ROOT (ours only), then create it. */
  private prepare(): void {
    if (this.prepared) return;
    this.prepared = true;
    if (fs.existsSync(ROOT)) {
      for (const entry of fs.readdirSync(ROOT)) {
        const dir = path.join(ROOT, entry);
        if (entry === 'reg') runSyncQuiet(path.join(SCRIPTS, 'registry'), ['stop', dir]);
        else if (['data', 'pid', 'root'].some((f) => fs.existsSync(path.join(dir, f)))) {
          runSyncQuiet(path.join(SCRIPTS, 'engine'), ['purge', dir]);
        }
      }
      fs.rmSync(ROOT, { recursive: true, force: true });
    }
    fs.mkdirSync(ROOT, { recursive: true, mode: 0o700 });
    // registered first, so it runs last: after the engines and the registry are stopped
    if (process.env.DVS_E2E_KEEP !== '1') onExit('root', () => fs.rmSync(ROOT, { recursive: true, force: true }));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
