import type { StatusMap } from '../backends/backend';
import type { VolumeOptions } from '../options/schema';

export interface VolumeSummary {
  name: string;
  /** Only for mounted volumes: the engine asks Path for the others when it needs one. */
  mountpoint?: string;
}

export interface VolumeDetails {
  name: string;
  mountpoint: string;
  createdAt: string;
  status: StatusMap & { backend: string; mounts: number };
}

/**
 * The VolumeDriver operations as the protocol layer needs them. Names arrive as the engine
 * sent them; the driver checks them. Failures are PluginErrors with a code.
 */
export interface VolumeDriver {
  /** `global` when volumes are shared with other hosts (a store catalogue), else `local`. */
  readonly scope: 'local' | 'global';
  /** Changes whenever what `list` answers may change, so a List reply can be kept until then. */
  readonly generation: string;
  create(name: string, options: VolumeOptions): Promise<void>;
  remove(name: string): Promise<void>;
  mount(name: string, id: string): Promise<string>;
  unmount(name: string, id: string): Promise<void>;
  path(name: string): Promise<string>;
  get(name: string): Promise<VolumeDetails>;
  list(): VolumeSummary[];
}
