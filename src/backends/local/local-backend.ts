import fs from 'fs-extra';
import path from 'node:path';
import { PluginError } from '../../errors';
import type { Logger } from '../../log';
import { fileMode, integer, parseMode } from '../../options/values';
import type { OptionSchema } from '../../options/schema';
import { bindMount, unmount } from '../../system/mount-commands';
import { isMountPoint, mountsAtOrUnder } from '../../system/mountinfo';
import { pathUnder } from '../../system/paths';
import type { Backend, StatusMap, Undo, VolumeSpec } from '../backend';
import { BACKEND_OPTION } from '../choose-backend';

const MAX_ID = 2 ** 32 - 2;

const LOCAL_OPTIONS: OptionSchema = {
  [BACKEND_OPTION.name]: BACKEND_OPTION.spec,
  uid: integer(0, MAX_ID),
  gid: integer(0, MAX_ID),
  mode: fileMode,
};

/**
 * Volumes in directories under PLUGIN_DATA_DIR/volumes, bind-mounted at their mountpoint
 * under PLUGIN_MOUNT_ROOT (the managed plugin's propagatedMount).
 */
export class LocalBackend implements Backend {
  readonly kind = 'local' as const;
  readonly options = LOCAL_OPTIONS;
  readonly refused = {};
  private readonly volumesDir: string;

  constructor(dataDir: string, private readonly log: Logger) {
    this.volumesDir = path.join(dataDir, 'volumes');
  }

  dataPath(spec: VolumeSpec): string {
    return pathUnder(this.volumesDir, spec.name);
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
    const busy = [...(await mountsAtOrUnder(spec.mountpoint)), ...(await mountsAtOrUnder(dir))];
    if (busy.length > 0) {
      throw new PluginError('IN_USE', `volume ${spec.name} is still mounted at ${busy[0]?.mountPoint}; its data was not deleted`);
    }
    await fs.rm(dir, { recursive: true, force: true });
    await removeEmptyDir(spec.mountpoint);
  }

  async mount(spec: VolumeSpec): Promise<void> {
    const dir = this.dataPath(spec);
    if (!(await fs.pathExists(dir))) {
      throw new PluginError('BACKEND_FAILED', `the data directory of volume ${spec.name} (${dir}) is missing; remove the volume and create it again`);
    }
    if (dir === spec.mountpoint || (await isMountPoint(spec.mountpoint))) return;
    await fs.mkdirp(spec.mountpoint);
    await bindMount(dir, spec.mountpoint);
  }

  async unmount(spec: VolumeSpec): Promise<void> {
    if (this.dataPath(spec) === spec.mountpoint) return;
    if (await isMountPoint(spec.mountpoint)) await unmount(spec.mountpoint);
    await removeEmptyDir(spec.mountpoint);
  }

  status(spec: VolumeSpec): StatusMap {
    return { path: this.dataPath(spec) };
  }

  async recover(spec: VolumeSpec, held: boolean): Promise<void> {
    if (held) await this.mount(spec);
    else await this.unmount(spec);
  }

  private async applyOwnership(dir: string, spec: VolumeSpec): Promise<void> {
    const { uid, gid } = spec.options;
    if (uid !== undefined || gid !== undefined) {
      const stat = await fs.stat(dir);
      await fs.chown(dir, uid === undefined ? stat.uid : Number(uid), gid === undefined ? stat.gid : Number(gid));
    }
    const mode = parseMode(spec.options.mode);
    if (mode !== undefined) await fs.chmod(dir, mode);
  }
}

async function removeEmptyDir(dir: string): Promise<void> {
  try {
    await fs.rmdir(dir);
  } catch {
    // Not empty or already gone: either way nothing of ours to clean.
  }
}
