import path from 'node:path';
import { cleanup, DaemonProcess, makeDirs } from './daemon-process';
import { startLatencyProxy, type LatencyProxy } from './latency-proxy';
import { installCredentials, keyNameOf, storeHostEnv } from './sftp-fixtures';
import { TestSshd, type SshdOptions } from './sshd';

export interface SshdAndDaemonOptions {
  /** Prefix of each daemon's temporary directory. */
  prefix: string;
  /** Environment of every daemon. */
  env?: Record<string, string>;
  /** Daemons ("hosts") made with the servers, each with directories of its own (default 1). */
  hosts?: number;
  /** false: the daemons are made but not started; the tests start (and kill) them. */
  startDaemons?: boolean;
  /** A fresh server and daemons for every test (beforeEach), not one set for the suite. */
  perTest?: boolean;
  /** The daemons are hosts of the default store in this directory of the first server, named host-a, host-b, ... */
  store?: string;
  /** How many servers (default 1); every daemon has each one's client key, as keyNameOf(index). */
  servers?: number;
  sshd?: SshdOptions;
  /** Round trip (ms) added by a latency proxy in front of each server; volumes reach it at the proxy's port. */
  latencyMs?: number;
}

export interface MoreDaemonOptions {
  /** HOST_NAME of a store host. */
  name?: string;
  /** Makes it a host of the default store in this directory (default: the fixture's store). */
  store?: string;
  env?: Record<string, string>;
}

/**
 * Real sshd servers and real daemons holding their credentials, for a suite: what
 * withSshdAndDaemon's hooks made, read in tests and hooks that run after them.
 */
export class SshdAndDaemon {
  readonly servers: TestSshd[] = [];
  readonly proxies: LatencyProxy[] = [];
  readonly daemons: DaemonProcess[] = [];
  /** Daemons a test added: they live as long as that test. */
  private readonly added: DaemonProcess[] = [];

  constructor(private readonly options: SshdAndDaemonOptions) {}

  /** The (first) server. */
  get sshd(): TestSshd {
    const sshd = this.servers[0];
    if (sshd === undefined) throw new Error('no sshd: the fixture starts it in its before hook');
    return sshd;
  }

  /** The (first) daemon. */
  get daemon(): DaemonProcess {
    return this.host(0);
  }

  host(index: number): DaemonProcess {
    const daemon = this.daemons[index];
    if (daemon === undefined) throw new Error(`no daemon ${index}: the fixture has ${this.daemons.length}`);
    return daemon;
  }

  /** One more started daemon with the servers' credentials, stopped after the test that adds it. */
  async addDaemon(more: MoreDaemonOptions = {}): Promise<DaemonProcess> {
    const daemon = await this.makeDaemon(more);
    this.added.push(daemon);
    await daemon.start();
    return daemon;
  }

  /** Stops the daemons the test added and removes their directories. */
  async stopAdded(): Promise<void> {
    for (const daemon of this.added.splice(0)) {
      this.daemons.splice(this.daemons.indexOf(daemon), 1);
      await stopAndRemove(daemon);
    }
  }

  async setUp(): Promise<void> {
    const { servers = 1, hosts = 1, latencyMs, store, startDaemons = true } = this.options;
    for (let i = 0; i < servers; i += 1) {
      const sshd = await TestSshd.start(this.options.sshd);
      this.servers.push(sshd);
      if (latencyMs !== undefined) this.proxies.push(await startLatencyProxy(`${sshd.host}:${sshd.port}`, latencyMs));
    }
    if (store !== undefined) await this.sshd.mkdirAsUser(store);
    for (let i = 0; i < hosts; i += 1) {
      const daemon = await this.makeDaemon(store === undefined ? {} : { name: `host-${String.fromCharCode(97 + i)}` });
      if (startDaemons) await daemon.start();
    }
  }

  /** Stops the daemons and removes their directories, then the proxies and the servers. */
  async tearDown(): Promise<void> {
    this.added.length = 0;
    for (const daemon of this.daemons.splice(0)) await stopAndRemove(daemon);
    for (const proxy of this.proxies.splice(0)) proxy.stop();
    for (const sshd of this.servers.splice(0)) await sshd.dispose();
  }

  private async makeDaemon(more: MoreDaemonOptions): Promise<DaemonProcess> {
    const dirs = makeDirs(this.options.prefix);
    await installCredentials(this.sshd, dirs);
    for (const [index, sshd] of this.servers.entries()) {
      if (index > 0) await sshd.writeClientKeyInto(path.join(dirs.dataDir, 'keys'), keyNameOf(index));
    }
    const store = more.store ?? this.options.store;
    const hostEnv = store === undefined ? {} : storeHostEnv(this.sshd, more.name ?? `host-${this.daemons.length}`, store);
    const daemon = new DaemonProcess(dirs, { ...hostEnv, ...this.options.env, ...more.env });
    this.daemons.push(daemon);
    return daemon;
  }
}

async function stopAndRemove(daemon: DaemonProcess): Promise<void> {
  await daemon.stop();
  cleanup(daemon.dirs.base);
}

/**
 * Registers a suite's hooks that start servers and daemons with credentials (before, or
 * beforeEach with perTest) and stop them (after, afterEach); call it inside a describe.
 * The returned object's fields are filled in by those hooks. Daemons a test adds are
 * stopped after it, before the afterEach hooks the suite registers after this call.
 */
export function withSshdAndDaemon(options: SshdAndDaemonOptions): SshdAndDaemon {
  const fixture = new SshdAndDaemon(options);
  if (options.perTest === true) {
    beforeEach(() => fixture.setUp());
    afterEach(() => fixture.tearDown());
  } else {
    before(() => fixture.setUp());
    afterEach(() => fixture.stopAdded());
    after(() => fixture.tearDown());
  }
  return fixture;
}
