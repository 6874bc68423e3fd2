import fs from 'fs-extra';
import path from 'node:path';
import { PluginError } from '../../errors';
import type { Logger } from '../../log';
import { fileMode, integer, oneOf } from '../../options/values';
import type { OptionSchema } from '../../options/schema';
import { bindMount, unmount } from '../../system/mount-commands';
import { isMountPoint, mountsAtOrUnder } from '../../system/mountinfo';
import { pathUnder } from '../../system/paths';
import { removeEmptyDir } from '../../system/remove-empty-dir';
import type { Backend, StatusMap, Undo, VolumeSpec } from '../backend';
import { BACKEND_OPTION } from '../registry';

const MAX_ID = 2 ** 32 - 2;

const ID = integer(0, MAX_ID);

const LOCAL_OPTIONS = {
  [BACKEND_OPTION]: oneOf('local'),
  uid: ID,
  gid: ID,
  mode: fileMode,
} satisfies OptionSchema;

/** Below PLUGIN_MOUNT_ROOT; no volume can have this name (names start with a letter or digit). */
export const LOCAL_VIEW = '.local';

/**
 * Volumes in directories under PLUGIN_DATA_DIR/volumes. That directory is bind-mounted once,
 * at PLUGIN_MOUNT_ROOT/.local (the managed plugin's propagatedMount), so each volume's
 * mountpoint PLUGIN_MOUNT_ROOT/.local/NAME is its directory: Mount and Unmount start no
 * mount(8) process and cost the same at any number of volumes.
 */
export class LocalBackend implements Backend {
  readonly kind = 'local' as const;
  readonly options = LOCAL_OPTIONS;
  readonly refused = {};
  private readonly volumesDir: string;
  private readonly viewDir: string;
  private viewReady: Promise<void> | undefined;

  constructor(
    dataDir: string,
    private readonly mountRoot: string,
    private readonly log: Logger,
  ) {
    this.volumesDir = path.join(dataDir, 'volumes');
    this.viewDir = path.join(mountRoot, LOCAL_VIEW);
  }

  dataPath(spec: VolumeSpec): string {
    return pathUnder(this.volumesDir, spec.name);
  }

  mountpointOf(name: string): string {
    return pathUnder(this.viewDir, name);
  }

  checkSpec(): void {}

  async create(spec: VolumeSpec): Promise<Undo> {
    const dir = this.dataPath(spec);
    await fs.mkdirp(this.volumesDir);
    let made = false;
    try {
      // An existing directory is data from an earlier volume of this name: keep it.
      await fs.mkdir(dir, { mode: 0o755 });
      made = true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      this.log.warn('adopting existing data directory', { volume: spec.name });
    }
    try {
      await this.applyOwnership(dir, spec);
    } catch (error) {
      if (made) await fs.rm(dir, { recursive: true, force: true });
      throw new PluginError('BACKEND_FAILED', `could not prepare ${dir}: ${(error as Error).message}`, { cause: error });
    }
    return async () => {
      if (made) await fs.rm(dir, { recursive: true, force: true });
    };
  }

  async remove(spec: VolumeSpec): Promise<void> {
    const dir = this.dataPath(spec);
    const busy = await mountsAtOrUnder(spec.mountpoint, dir, this.legacyMountpoint(spec));
    if (busy.length > 0) {
      throw new PluginError('IN_USE', `volume ${spec.name} is still mounted at ${busy[0]?.mountPoint}; its data was not deleted`);
    }
    await fs.rm(dir, { recursive: true, force: true });
  }

  async mount(spec: VolumeSpec): Promise<void> {
    const dir = this.dataPath(spec);
    if (!(await fs.pathExists(dir))) {
      throw new PluginError('BACKEND_FAILED', `the data directory of volume ${spec.name} (${dir}) is missing; remove the volume and create it again`);
    }
    await this.ensureView();
  }

  /** Nothing per volume to release: the shared view stays for the other volumes. */
  async unmount(): Promise<void> {}

  status(spec: VolumeSpec): StatusMap {
    return { path: this.dataPath(spec) };
  }

  async recover(spec: VolumeSpec, held: boolean): Promise<void> {
    // Versions before the shared view bind-mounted each volume at PLUGIN_MOUNT_ROOT/NAME.
    const legacy = this.legacyMountpoint(spec);
    if (await isMountPoint(legacy)) {
      this.log.info('detaching the per-volume bind mount of an earlier version', { volume: spec.name });
      await unmount(legacy);
    }
    await removeEmptyDir(legacy);
    if (held) await this.mount(spec);
  }

  private legacyMountpoint(spec: VolumeSpec): string {
    return pathUnder(this.mountRoot, spec.name);
  }

  /** Once per process: the bind of the volumes directory at PLUGIN_MOUNT_ROOT/.local. */
  private ensureView(): Promise<void> {
    this.viewReady ??= this.makeView().catch((error: unknown) => {
      this.viewReady = undefined;
      throw error;
    });
    return this.viewReady;
  }

  private async makeView(): Promise<void> {
    await fs.mkdirp(this.volumesDir);
    // Kept from an earlier process of this plugin (same host namespace), or made now.
    if (await isMountPoint(this.viewDir)) return;
    await fs.mkdirp(this.viewDir);
    await bindMount(this.volumesDir, this.viewDir);
    this.log.info('local volumes shown at their mountpoints', { source: this.volumesDir, view: this.viewDir });
  }

  private async applyOwnership(dir: string, spec: VolumeSpec): Promise<void> {
    const { uid, gid, mode } = spec.options;
    if (uid !== undefined || gid !== undefined) {
      const stat = await fs.stat(dir);
      await fs.chown(dir, uid === undefined ? stat.uid : ID.parse(uid), gid === undefined ? stat.gid : ID.parse(gid));
    }
    if (mode !== undefined) await fs.chmod(dir, fileMode.parse(mode));
  }
}
