import fs from 'fs-extra';
import path from 'node:path';
import { describe, PluginError } from '../../errors';
import type { Logger } from '../../log';
import type { VolumeOptions } from '../../options/schema';
import { writeFileAtomic } from '../../system/atomic-write';
import { unmountAll } from '../../system/mount-commands';
import { isMountPoint } from '../../system/mountinfo';
import { pathUnder } from '../../system/paths';
import { terminate } from '../../system/processes';
import type { Backend, StatusMap, Undo, VolumeSpec } from '../backend';
import { CatalogueRemote } from './catalogue/catalogue-remote';
import { loadHostIdentity } from './catalogue/host-identity';
import { StoreCatalogue } from './catalogue/store-catalogue';
import { ControlConnections, readSecretFile, type ControlTarget, type HostTrust } from './control/control-connections';
import { DefaultStore, type SftpDefaults } from './default-store';
import { handshakeBackoffMs, HandshakeGate, isRefusedHandshake } from './control/handshake-gate';
import { hostKeyFromBlob, knownHostsLine } from './control/host-keys';
import { operationError } from './control/remote-errors';
import { statvfs, type RemoteUsage } from './control/remote-usage';
import { sshConfigText } from './sshfs/ssh-config';
import { findSshfsClock } from './sshfs/sshfs-clock';
import { SshfsProcess, type SshfsLaunch } from './sshfs/sshfs-process';
import { KNOWN_HOSTS_PLACEHOLDER, SshfsShares, type ShareRecipe } from './sshfs/sshfs-shares';
import { sshfsOptions } from './sshfs/sshfs-options';
import { SFTP_OPTIONS, SFTP_REFUSED } from './sftp-options';
import { describeRemote, describeServer, resolveSettings, type SftpSettings } from './sftp-settings';

export interface SftpBackendConfig {
  dataDir: string;
  /**
   * Where the sshfs shares are mounted. Not under dataDir: a share can show a server's whole
   * file system, which a backup or an `rm -rf` of the data directory must not walk into.
   */
  runDir: string;
  defaults: SftpDefaults;
  /** Seconds an SFTP mount stays connected after its last Unmount; 0 releases it at once. */
  idleUnmountSeconds: number;
  /** How this host is named to the other hosts of the default store. */
  hostName: string;
  leaseTtlSeconds: number;
  catalogueRefreshSeconds: number;
  log: Logger;
}

interface VolumeHealth {
  lastError?: string | undefined;
  usage?: RemoteUsage | undefined;
}

/**
 * Volumes on an SFTP server: data through sshfs, one mount per server login shared by its
 * volumes (sshfs-shares.ts), ssh2-sftp-client for control. Remote data is deleted only for volumes created with remove=delete.
 */
export class SftpBackend implements Backend {
  readonly kind = 'sftp' as const;
  readonly options = SFTP_OPTIONS;
  readonly refused = SFTP_REFUSED;
  /** SSH handshakes per server, for control connections and sshfs mounts together. */
  private readonly gate = new HandshakeGate();
  private readonly control = new ControlConnections(this.gate);
  private readonly shares: SshfsShares;
  private readonly clock = findSshfsClock();
  private readonly health = new Map<string, VolumeHealth>();
  private readonly keysDir: string;
  private readonly filesDir: string;
  private readonly store: DefaultStore;
  private readonly log: Logger;
  /** Settings parsed once per volume: keyed on the options object a volume keeps for life. */
  private readonly parsed = new WeakMap<VolumeOptions, { name: string; settings: SftpSettings }>();
  readonly idleUnmountSeconds: number;
  /** With a default store, the store keeps the catalogue of its volumes for every host. */
  catalogue: StoreCatalogue | undefined;

  constructor(config: Omit<SftpBackendConfig, 'hostName' | 'leaseTtlSeconds' | 'catalogueRefreshSeconds'>) {
    this.store = new DefaultStore(config.defaults);
    this.log = config.log;
    this.idleUnmountSeconds = config.idleUnmountSeconds;
    this.keysDir = path.join(config.dataDir, 'keys');
    this.filesDir = path.join(config.dataDir, 'sftp');
    this.shares = new SshfsShares(path.join(config.runDir, 'sftp-shares'), config.log);
    if (this.clock.ticksPerSecond === 1) {
      config.log.warn('sshfs-clock.so is missing (run npm run build): sshfs caches in whole seconds, so the kernel caches less and metadata is slower');
    }
  }

  /** The backend with its store catalogue, whose local copy is loaded before the daemon listens. */
  static async open(config: SftpBackendConfig): Promise<SftpBackend> {
    const backend = new SftpBackend(config);
    await fs.mkdirp(backend.keysDir, { mode: 0o700 });
    await backend.shares.adoptLeftovers();
    if (backend.store.host === undefined) return backend;
    const host = await loadHostIdentity(config.dataDir, config.hostName);
    const remote = new CatalogueRemote(backend.control, () => backend.defaultStoreTarget(), config.defaults.basePath ?? '.', host, config.log);
    backend.catalogue = new StoreCatalogue({
      remote,
      host,
      covers: (options) => backend.store.holds(options),
      cacheFile: path.join(config.dataDir, 'catalogue-cache.json'),
      leaseTtlSeconds: config.leaseTtlSeconds,
      refreshSeconds: config.catalogueRefreshSeconds,
      log: config.log,
    });
    await backend.catalogue.load();
    config.log.info('store catalogue', { host: host.name, hostId: host.id });
    return backend;
  }

  /** A volume that names a server, or any volume when the plugin has a default store. */
  claims(options: VolumeOptions): boolean {
    return options.host !== undefined || this.store.host !== undefined;
  }

  checkSpec(spec: VolumeSpec): void {
    this.settings(spec);
  }

  async create(spec: VolumeSpec): Promise<Undo> {
    const settings = this.settings(spec);
    const trust = await this.administratorTrust(settings);
    let madeRemote = false;
    const hostKey = await this.control.with(this.target(settings, trust), async ({ client, sftp, hostKey }) => {
      try {
        const kind = await client.exists(settings.remotePath);
        if (kind === false) {
          try {
            await client.mkdir(settings.remotePath, true);
            madeRemote = true;
          } catch (error) {
            // Another host may have made it between our look and our mkdir.
            if ((await client.exists(settings.remotePath)) !== 'd') throw error;
          }
        } else if (kind !== 'd') {
          throw new PluginError('BAD_OPTION', `${settings.remotePath} exists on ${settings.host} and is not a directory; choose another path`);
        }
      } catch (error) {
        throw error instanceof PluginError ? error : operationError(error, 'create', settings.remotePath, settings);
      }
      this.remember(spec.name, { usage: await statvfs(sftp, settings.remotePath) });
      return hostKey;
    });
    const dir = this.volumeDir(spec.name);
    await fs.mkdirp(dir, { mode: 0o700 });
    await writeFileAtomic(this.knownHostsFile(spec.name), `${knownHostsLine(settings.host, settings.port, hostKey)}\n`);
    void this.warmShare(spec);
    return async ({ keepRemoteData = false } = {}) => {
      await fs.rm(dir, { recursive: true, force: true });
      if (madeRemote && !keepRemoteData) {
        await this.control.with(this.target(settings, trust), ({ client }) => client.rmdir(settings.remotePath, false));
      }
    };
  }

  async remove(spec: VolumeSpec): Promise<void> {
    if (await isMountPoint(spec.mountpoint)) {
      throw new PluginError('IN_USE', `volume ${spec.name} is still mounted at ${spec.mountpoint}; its data was not touched`);
    }
    const settings = this.settings(spec);
    if (settings.deleteOnRemove) await this.deleteRemote(spec, settings);
    await fs.rm(this.volumeDir(spec.name), { recursive: true, force: true });
    await removeEmptyMountpoint(spec.mountpoint);
    this.health.delete(spec.name);
  }

  async mount(spec: VolumeSpec): Promise<void> {
    if (this.shares.serves(spec.name) && (await isMountPoint(spec.mountpoint))) return;
    if (this.shares.isBound(spec.name)) {
      this.remember(spec.name, { lastError: `sshfs had stopped: ${this.shares.lastError(spec.name) ?? 'no reason given'}; mounted again` });
      await this.shares.unbind(spec.name, spec.mountpoint);
    } else if (await isMountPoint(spec.mountpoint)) {
      // Left by an earlier process and not claimed at recovery: nothing serves it.
      await this.detachStale(spec);
    }
    const settings = this.settings(spec);
    const recipe = await this.shareRecipe(spec, settings);
    try {
      await this.shares.bind(spec.name, spec.mountpoint, settings.remotePath, recipe, (launch) => this.startSshfs(settings, launch));
      this.remember(spec.name, { lastError: undefined });
    } catch (error) {
      this.remember(spec.name, { lastError: describe(error) });
      await removeEmptyMountpoint(spec.mountpoint);
      throw error;
    }
    void this.refreshUsage(spec, settings);
  }

  /** What the volume's sshfs share is made of; reads the secret files, so they are checked at every Mount. */
  private async shareRecipe(spec: VolumeSpec, settings: SftpSettings): Promise<ShareRecipe> {
    const knownHosts = await this.pinnedKnownHosts(spec, settings);
    const hostKeyType = hostKeyFromBlob(Buffer.from(knownHosts.split(/\s+/)[2] ?? '', 'base64')).type;
    const password = settings.passwordFile === undefined ? undefined : (await readSecretFile(settings.passwordFile, 'password_file')).toString('utf8').replace(/\r?\n$/, '');
    if (settings.identityFile !== undefined) await readSecretFile(settings.identityFile, 'identity');
    return {
      sshConfig: sshConfigText(settings, KNOWN_HOSTS_PLACEHOLDER, hostKeyType),
      knownHosts,
      options: sshfsOptions(settings, this.clock.ticksPerSecond),
      env: this.clock.env,
      root: settings.remotePath.startsWith('/') ? '/' : '',
      passwordFile: settings.passwordFile,
      password,
      timeoutMs: (settings.connectTimeoutSeconds + 5) * 1000,
      server: describeServer(settings),
    };
  }

  /** After a Create: the share its first Mount will use is started meanwhile (see SshfsShares.warm). */
  private async warmShare(spec: VolumeSpec): Promise<void> {
    if (this.idleUnmountSeconds === 0) return;
    try {
      const settings = this.settings(spec);
      await this.shares.warm(await this.shareRecipe(spec, settings), (launch) => this.startSshfs(settings, launch), this.idleUnmountSeconds * 1000);
    } catch (error) {
      // The Mount will say what is wrong; Create has already reached the server.
      this.log.debug('share not warmed', { volume: spec.name, error: describe(error) });
    }
  }

  /**
   * Starts sshfs through the handshake gate. A handshake the server refused (too many
   * connections opening at once: MaxStartups) is tried again with backoff and jitter while
   * the connect timeout lasts; the error then says how often it was tried.
   */
  private startSshfs(settings: SftpSettings, launch: SshfsLaunch): Promise<SshfsProcess> {
    const server = `${settings.host}:${settings.port}`;
    const started = Date.now();
    return this.gate.runRetrying(server, started + settings.connectTimeoutSeconds * 1000, () => SshfsProcess.start(launch), {
      retry: (error, attempt) => {
        if (!(error instanceof PluginError) || !isRefusedHandshake(error.message)) return undefined;
        const wait = handshakeBackoffMs(attempt + 1);
        this.log.debug('handshake refused', { server, attempt, retryInMs: Math.round(wait) });
        return wait;
      },
      giveUp: (error, attempts, outOfTime) => {
        if (!outOfTime || !(error instanceof PluginError)) return error instanceof Error ? error : new Error(describe(error));
        return new PluginError(
          error.code,
          `${error.message} (tried ${attempts} times in ${((Date.now() - started) / 1000).toFixed(1)} s: ${server} refused new SSH connections; ` +
            `raise MaxStartups in its sshd_config, or start fewer containers at once)`,
          { cause: error },
        );
      },
    });
  }

  async unmount(spec: VolumeSpec): Promise<void> {
    await this.shares.unbind(spec.name, spec.mountpoint);
    await removeEmptyMountpoint(spec.mountpoint);
  }

  status(spec: VolumeSpec): StatusMap {
    const status: StatusMap = {};
    try {
      status.remote = describeRemote(this.settings(spec));
    } catch (error) {
      status.remote = `unresolved: ${describe(error)}`;
    }
    status.connected = this.shares.serves(spec.name);
    const health = this.health.get(spec.name);
    if (health?.lastError !== undefined) status.lastError = health.lastError;
    if (health?.usage !== undefined) {
      status.usedBytes = health.usage.usedBytes;
      status.freeBytes = health.usage.freeBytes;
      status.totalBytes = health.usage.totalBytes;
    }
    return status;
  }

  async recover(spec: VolumeSpec, held: boolean): Promise<void> {
    if (await isMountPoint(spec.mountpoint)) {
      if (held && (await this.shares.claim(spec.name, spec.mountpoint))) {
        this.log.info('adopted a running sshfs mount', { volume: spec.name });
        return;
      }
      await this.detachStale(spec);
    }
    if (held) await this.mount(spec);
  }

  async recovered(): Promise<void> {
    await this.shares.stopUnclaimed();
  }

  async close(): Promise<void> {
    this.catalogue?.stop();
    await this.shares.close();
    await this.control.closeAll();
  }

  /** How to reach the plugin's default store (SFTP_* settings), for the catalogue. */
  private async defaultStoreTarget(): Promise<ControlTarget> {
    const settings = resolveSettings({ name: 'catalogue', options: {}, mountpoint: '' }, this.store, this.keysDir);
    return this.target(settings, await this.administratorTrust(settings));
  }

  /** A mount at the volume's mountpoint that nothing of ours serves: detached, its sshfs ended. */
  private async detachStale(spec: VolumeSpec): Promise<void> {
    this.log.warn('detaching a stale mount', { volume: spec.name });
    // An sshfs of its own at the mountpoint: left by a version that ran one per volume.
    const orphan = await SshfsProcess.adopt(spec.mountpoint);
    await unmountAll(spec.mountpoint);
    if (orphan !== undefined) await terminate(orphan.pid);
  }

  private async deleteRemote(spec: VolumeSpec, settings: SftpSettings): Promise<void> {
    const normalized = path.posix.normalize(settings.remotePath).replace(/\/+$/, '');
    const base = settings.basePath === undefined ? undefined : path.posix.normalize(settings.basePath).replace(/\/+$/, '');
    if (['', '.', '/', '~'].includes(normalized) || normalized === base) {
      throw new PluginError('BAD_OPTION', `refusing to delete ${settings.remotePath} on ${settings.host}: it is not a volume's own directory`);
    }
    const trust = { knownHosts: await this.readKnownHosts(spec.name) };
    await this.control.with(this.target(settings, trust), async ({ client }) => {
      try {
        if ((await client.exists(settings.remotePath)) !== false) await client.rmdir(settings.remotePath, true);
      } catch (error) {
        throw operationError(error, 'delete', settings.remotePath, settings);
      }
    });
  }

  /** The pinned key written at Create; verified again from the administrator's trust if lost. */
  private async pinnedKnownHosts(spec: VolumeSpec, settings: SftpSettings): Promise<string> {
    const existing = await this.readKnownHosts(spec.name);
    if (existing !== undefined) return existing;
    const trust = await this.administratorTrust(settings);
    const hostKey = await this.control.with(this.target(settings, trust), ({ hostKey }) => Promise.resolve(hostKey));
    const line = `${knownHostsLine(settings.host, settings.port, hostKey)}\n`;
    await fs.mkdirp(this.volumeDir(spec.name), { mode: 0o700 });
    await writeFileAtomic(this.knownHostsFile(spec.name), line);
    return line;
  }

  private async readKnownHosts(name: string): Promise<string | undefined> {
    try {
      return await fs.readFile(this.knownHostsFile(name), 'utf8');
    } catch {
      return undefined;
    }
  }

  /** A pinned fingerprint wins; else the administrator's known_hosts in the keys directory. */
  private async administratorTrust(settings: SftpSettings): Promise<HostTrust> {
    if (settings.hostkey !== undefined) return { fingerprint: settings.hostkey };
    try {
      return { knownHosts: await fs.readFile(path.join(this.keysDir, 'known_hosts'), 'utf8') };
    } catch {
      return {};
    }
  }

  private async refreshUsage(spec: VolumeSpec, settings: SftpSettings): Promise<void> {
    try {
      const trust = { knownHosts: await this.readKnownHosts(spec.name) };
      const usage = await this.control.with(this.target(settings, trust), ({ sftp }) => statvfs(sftp, settings.remotePath));
      if (usage !== undefined) this.remember(spec.name, { usage });
    } catch (error) {
      this.log.debug('usage not refreshed', { volume: spec.name, error: describe(error) });
    }
  }

  private remember(name: string, update: VolumeHealth): void {
    this.health.set(name, { ...this.health.get(name), ...update });
  }

  private settings(spec: VolumeSpec): SftpSettings {
    const known = this.parsed.get(spec.options);
    if (known?.name === spec.name) return known.settings;
    const settings = resolveSettings(spec, this.store, this.keysDir);
    this.parsed.set(spec.options, { name: spec.name, settings });
    return settings;
  }

  private target(settings: SftpSettings, trust: HostTrust): ControlTarget {
    return {
      host: settings.host,
      port: settings.port,
      user: settings.user,
      identityFile: settings.identityFile,
      passwordFile: settings.passwordFile,
      trust,
      connectTimeoutSeconds: settings.connectTimeoutSeconds,
    };
  }

  private volumeDir = (name: string): string => pathUnder(this.filesDir, name);
  private knownHostsFile = (name: string): string => path.join(this.volumeDir(name), 'known_hosts');
}

/** Mountpoints are made for a mount; one that is not empty or already gone is left as it is. */
async function removeEmptyMountpoint(dir: string): Promise<void> {
  try {
    await fs.rmdir(dir);
  } catch {
    // ENOTEMPTY, ENOENT or EBUSY: nothing of ours to clean.
  }
}
