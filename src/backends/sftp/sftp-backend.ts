import path from 'node:path';
import { describe, PluginError } from '../../errors';
import type { Logger } from '../../log';
import type { VolumeOptions } from '../../options/schema';
import { unmountAll } from '../../system/mount-commands';
import { isMountPoint } from '../../system/mountinfo';
import { terminate } from '../../system/processes';
import { removeEmptyDir } from '../../system/remove-empty-dir';
import type { Backend, MountCall, StatusMap, Undo, VolumeSpec } from '../backend';
import { openStoreCatalogue } from './catalogue/open-store-catalogue';
import type { StoreCatalogue } from './catalogue/store-catalogue';
import { ControlConnections } from './control/control-connections';
import { HandshakeGate } from './control/handshake-gate';
import { AdministratorTrust, pinnedTrust, type HostTrust } from './control/host-trust';
import { operationError } from './control/remote-errors';
import { statvfs } from './control/remote-usage';
import { checkSecretFiles } from './control/secret-files';
import { DefaultStore, sftpDefaultsFrom } from './default-store';
import { SFTP_OPTIONS, SFTP_REFUSED } from './sftp-options';
import { controlTargetOf, describeRemote, resolveSettings, type SftpSettings } from './sftp-settings';
import { shareDeadline } from './sshfs/share-deadline';
import { shareRecipe, type ShareRecipe } from './sshfs/share-recipe';
import { findSshfsRuntime } from './sshfs/sshfs-runtime';
import { SshfsProcess } from './sshfs/sshfs-process';
import { SshfsShares } from './sshfs/sshfs-shares';
import { VolumeFiles } from './volume-files';
import { VolumeHealth } from './volume-health';

export interface SftpBackendConfig {
  dataDir: string;
  /**
   * Where the sshfs shares are mounted. Not under dataDir: a share can show a server's whole
   * file system, which a backup or an `rm -rf` of the data directory must not walk into.
   */
  runDir: string;
  /** The daemon's SFTP_* environment: the default store's server, login and key. */
  env: Readonly<Record<string, string>>;
  /** Seconds an SFTP mount stays connected after its last Unmount; 0 releases it at once. */
  idleUnmountSeconds: number;
  /** How this host is named to the other hosts of the default store. */
  hostName: string;
  leaseTtlSeconds: number;
  catalogueRefreshSeconds: number;
  log: Logger;
}

/**
 * Volumes on an SFTP server: data through sshfs, one mount per server login shared by its
 * volumes (sshfs/), ssh2-sftp-client for control (control/), and with a default store its
 * catalogue shared by every host (catalogue/). Remote data is deleted only for volumes
 * created with remove=delete.
 */
export class SftpBackend implements Backend {
  readonly kind = 'sftp' as const;
  readonly options = SFTP_OPTIONS;
  readonly refused = SFTP_REFUSED;
  readonly idleUnmountSeconds: number;
  /** With a default store, the store keeps the catalogue of its volumes for every host. */
  catalogue: StoreCatalogue | undefined;
  /** SSH handshakes per server, for control connections and sshfs mounts together. */
  private readonly gate = new HandshakeGate();
  private readonly control = new ControlConnections(this.gate);
  private readonly sshfs = findSshfsRuntime();
  private readonly health = new VolumeHealth();
  private readonly shares: SshfsShares;
  private readonly files: VolumeFiles;
  private readonly trust: AdministratorTrust;
  private readonly store: DefaultStore;
  private readonly log: Logger;
  /** Settings parsed once per volume: keyed on the options object a volume keeps for life. */
  private readonly parsed = new WeakMap<VolumeOptions, { name: string; settings: SftpSettings }>();

  private constructor(config: SftpBackendConfig) {
    this.store = new DefaultStore(sftpDefaultsFrom(config.env));
    this.log = config.log;
    this.idleUnmountSeconds = config.idleUnmountSeconds;
    this.files = new VolumeFiles(config.dataDir);
    this.trust = new AdministratorTrust(path.join(this.files.keysDir, 'known_hosts'));
    this.shares = new SshfsShares(path.join(config.runDir, 'sftp-shares'), this.gate, config.log);
    if (this.sshfs.unused.clock !== undefined) {
      config.log.warn(`${this.sshfs.unused.clock}: sshfs caches in whole seconds, so the kernel caches less and metadata is slower`);
    }
    if (this.sshfs.unused.openFiles !== undefined) {
      config.log.warn(
        `${this.sshfs.unused.openFiles}: renaming a directory that holds an open file can stop sshfs and every volume of that server, and files held open across a reconnect stay broken`,
      );
    }
  }

  /** The backend with its store catalogue, whose local copy is loaded before the daemon listens. */
  static async open(config: SftpBackendConfig): Promise<SftpBackend> {
    const backend = new SftpBackend(config);
    await backend.files.prepare();
    await backend.shares.adoptLeftovers();
    backend.catalogue = await openStoreCatalogue(backend.store, backend.gate, backend.trust, {
      dataDir: config.dataDir,
      keysDir: backend.files.keysDir,
      hostName: config.hostName,
      leaseTtlSeconds: config.leaseTtlSeconds,
      refreshSeconds: config.catalogueRefreshSeconds,
      log: config.log,
    });
    return backend;
  }

  /** A volume that names a server, or any volume when the plugin has a default store. */
  claims(options: VolumeOptions): boolean {
    return options.host !== undefined || this.store.host !== undefined;
  }

  checkSpec(spec: VolumeSpec): void {
    if (this.settings(spec).containSymlinks && !this.sshfs.containsSymlinks) {
      throw new PluginError('BAD_OPTION', "option contain_symlinks=true: this plugin's sshfs cannot refuse symbolic links (it has no contain_symlinks); leave the option out");
    }
  }

  async create(spec: VolumeSpec): Promise<Undo> {
    const settings = this.settings(spec);
    const target = controlTargetOf(settings, await this.trust.of(settings.hostkey));
    let madeRemote = false;
    const hostKey = await this.control.with(target, async ({ client, sftp, hostKey }) => {
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
      this.health.note(spec.name, { usage: await statvfs(sftp, settings.remotePath) });
      return hostKey;
    });
    await this.files.pin(spec.name, settings.host, settings.port, hostKey);
    void this.warmShare(spec, settings);
    return async ({ keepRemoteData = false } = {}) => {
      await this.files.remove(spec.name);
      if (madeRemote && !keepRemoteData) await this.control.with(target, ({ client }) => client.rmdir(settings.remotePath, false));
    };
  }

  async remove(spec: VolumeSpec): Promise<void> {
    if (await isMountPoint(spec.mountpoint)) {
      throw new PluginError('IN_USE', `volume ${spec.name} is still mounted at ${spec.mountpoint}; its data was not touched`);
    }
    // The share its Create started for a Mount to come: none will.
    await this.shares.dropWarm(spec.name);
    const settings = this.settingsOrNone(spec);
    if (settings?.deleteOnRemove === true) await this.deleteRemote(spec, settings);
    await this.files.remove(spec.name);
    await removeEmptyDir(spec.mountpoint);
    this.health.forget(spec.name);
  }

  async mount(spec: VolumeSpec, call?: MountCall): Promise<void> {
    const settings = this.settings(spec);
    // Counted from when the engine sent it: a Mount ends within connect_timeout + 5 s.
    const deadline = shareDeadline(settings.connectTimeoutSeconds, call?.queuedMs);
    if (this.shares.serves(spec.name) && (await isMountPoint(spec.mountpoint))) return;
    if (this.shares.isBound(spec.name)) {
      this.health.note(spec.name, { lastError: `sshfs had stopped: ${this.shares.lastError(spec.name) ?? 'no reason given'}; mounted again` });
      await this.shares.unbind(spec.name, spec.mountpoint);
    } else if (await isMountPoint(spec.mountpoint)) {
      // Left by an earlier process and not claimed at recovery: nothing serves it.
      await this.detachStale(spec);
    }
    try {
      // Checked at every Mount, so that a key or password file gone wrong is named.
      await checkSecretFiles(settings);
      await this.shares.bind(spec.name, spec.mountpoint, settings.remotePath, await this.recipeOf(spec, settings), deadline);
      this.health.note(spec.name, { lastError: undefined });
    } catch (error) {
      this.health.note(spec.name, { lastError: describe(error) });
      await removeEmptyDir(spec.mountpoint);
      throw error;
    }
    void this.refreshUsage(spec, settings);
  }

  async unmount(spec: VolumeSpec): Promise<void> {
    await this.shares.unbind(spec.name, spec.mountpoint);
    await removeEmptyDir(spec.mountpoint);
  }

  status(spec: VolumeSpec): StatusMap {
    let remote: string;
    try {
      remote = describeRemote(this.settings(spec));
    } catch (error) {
      remote = `unresolved: ${describe(error)}`;
    }
    const outage = this.shares.outage(spec.name);
    const lost = outage === undefined ? {} : { disconnectedAt: outage.at, lastError: `sshfs stopped: ${outage.reason}; restart the containers that use this volume` };
    const staleFor = this.shares.staleForAtMost(spec.name);
    return {
      remote,
      connected: this.shares.serves(spec.name),
      ...(staleFor === undefined ? {} : { staleForAtMostSeconds: staleFor }),
      ...this.health.status(spec.name),
      ...lost,
    };
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

  /** The volume's share: its settings and the host key pinned at its Create. */
  private async recipeOf(spec: VolumeSpec, settings: SftpSettings): Promise<ShareRecipe> {
    return shareRecipe(settings, await this.pinnedKnownHosts(spec, settings), this.sshfs, this.shares.dir);
  }

  /** After a Create: the share its first Mount will use is started meanwhile (see SshfsShares.warm). */
  private async warmShare(spec: VolumeSpec, settings: SftpSettings): Promise<void> {
    if (this.idleUnmountSeconds === 0) return;
    try {
      await this.shares.warm(spec.name, await this.recipeOf(spec, settings), this.idleUnmountSeconds * 1000);
    } catch (error) {
      // The Mount will say what is wrong; Create has already reached the server.
      this.log.debug('share not warmed', { volume: spec.name, error: describe(error) });
    }
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
    await this.control.with(controlTargetOf(settings, await this.pinnedTrust(spec)), async ({ client }) => {
      try {
        if ((await client.exists(settings.remotePath)) !== false) await client.rmdir(settings.remotePath, true);
      } catch (error) {
        throw operationError(error, 'delete', settings.remotePath, settings);
      }
    });
  }

  /** The pinned key written at Create; verified again from the administrator's trust if lost. */
  private async pinnedKnownHosts(spec: VolumeSpec, settings: SftpSettings): Promise<string> {
    const existing = await this.files.readPinned(spec.name);
    if (existing !== undefined) return existing;
    const target = controlTargetOf(settings, await this.trust.of(settings.hostkey));
    const hostKey = await this.control.with(target, ({ hostKey }) => Promise.resolve(hostKey));
    return this.files.pin(spec.name, settings.host, settings.port, hostKey);
  }

  /** Trust in the key pinned at the volume's Create only; none when its file is lost. */
  private async pinnedTrust(spec: VolumeSpec): Promise<HostTrust> {
    const pinned = await this.files.readPinned(spec.name);
    return pinned === undefined ? { label: 'none' } : pinnedTrust(pinned);
  }

  private async refreshUsage(spec: VolumeSpec, settings: SftpSettings): Promise<void> {
    try {
      const target = controlTargetOf(settings, await this.pinnedTrust(spec));
      const usage = await this.control.with(target, ({ sftp }) => statvfs(sftp, settings.remotePath));
      if (usage !== undefined) this.health.note(spec.name, { usage });
    } catch (error) {
      this.log.debug('usage not refreshed', { volume: spec.name, error: describe(error) });
    }
  }

  /**
   * A volume whose options a newer rule refuses (a path in the catalogue's directory, say)
   * can still be removed: forgotten here, nothing on the server touched.
   */
  private settingsOrNone(spec: VolumeSpec): SftpSettings | undefined {
    try {
      return this.settings(spec);
    } catch (error) {
      this.log.warn('volume removed here only; its remote data was not touched, as its options no longer pass', { volume: spec.name, error: describe(error) });
      return undefined;
    }
  }

  private settings(spec: VolumeSpec): SftpSettings {
    const known = this.parsed.get(spec.options);
    if (known?.name === spec.name) return known.settings;
    const settings = resolveSettings(spec, this.store, this.files.keysDir);
    this.parsed.set(spec.options, { name: spec.name, settings });
    return settings;
  }
}
