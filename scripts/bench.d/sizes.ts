/**
 * How much every suite measures, per size mode. Full: the sizes the published figures come
 * from. Reduced: the same measurements with fewer files, smaller writes, fewer rounds and
 * peers, so that a run of every suite takes about 40 minutes on a 2-core machine. Quick: a
 * few minutes, for development; its figures mean nothing.
 */
import type { CatalogueSizes } from './catalogue';
import type { ControlSizes } from './control-path';
import type { DataSizes } from './data-path';
import type { ImageSizes } from './image-build';
import type { SizeMode } from './lib/results';
import type { MetadataSizes } from './metadata';
import { PEER_IDS } from './metadata-peers';
import { DEFAULT_WORKLOADS } from './metadata-workloads';
import type { SharingSizes } from './sharing';

export interface MountSizes {
  /** Volumes created, listed, inspected and removed per driver (ours SFTP: cliSftpVolumes). */
  cliVolumes: number;
  cliSftpVolumes: number;
  /** `docker volume ls` and `inspect` per driver. */
  cliRepeats: number;
  /** Fresh volumes run once per driver, and runs on one volume. */
  mountFirst: number;
  mountRepeats: number;
  /** First runs on a server ours holds no connection to (13 s apart). */
  coldRuns: number;
}

export interface MemorySizes {
  /** Volumes held (local ones of ours, and as many of rclone) while RSS is read. */
  volumes: number;
  /** SFTP volumes mounted by running containers, per driver. */
  mounted: number;
}

export interface Sizes {
  /** Per round-trip time (ms). */
  data: Record<number, DataSizes>;
  metadata: MetadataSizes;
  control: ControlSizes & { memory: MemorySizes };
  mount: MountSizes;
  sharing: SharingSizes;
  catalogue: CatalogueSizes;
  image: ImageSizes;
}

const METADATA_PEERS_REDUCED = PEER_IDS.filter((p) => ['sshfs-defaults', 'ours', 'ours-ct20', 'rclone'].includes(p));

export const SIZES: Record<SizeMode, Sizes> = {
  full: {
    data: { 0: { rounds: 5, seqMiB: 1024, files: 5000 }, 10: { rounds: 3, seqMiB: 256, files: 200 }, 50: { rounds: 3, seqMiB: 32, files: 50 } },
    metadata: { peers: PEER_IDS, workloads: DEFAULT_WORKLOADS, files: { 0: 5000, 10: 200, 50: 100 }, rounds: { 0: 5, 10: 3, 50: 3 } },
    control: { counts: [10, 1000, 10000], samples: 500, repetitions: 3, memory: { volumes: 1000, mounted: 20 } },
    mount: { cliVolumes: 1000, cliSftpVolumes: 100, cliRepeats: 20, mountFirst: 10, mountRepeats: 20, coldRuns: 5 },
    sharing: { rounds: 3, sizeMiB: 256, rtts: [0, 10], storm: 60, mountSamples: 5 },
    catalogue: { rounds: 200, removals: 20, idleSeconds: 30, mountedVolumes: [10, 100, 1000], pickup: { volumes: [100, 10000], rtts: [0, 50], rounds: 10 } },
    image: { rounds: 3 },
  },
  reduced: {
    data: { 0: { rounds: 3, seqMiB: 256, files: 1000 }, 10: { rounds: 2, seqMiB: 64, files: 100 } },
    metadata: { peers: METADATA_PEERS_REDUCED, workloads: DEFAULT_WORKLOADS, files: { 0: 1000, 10: 100, 50: 100 }, rounds: { 0: 3, 10: 2, 50: 2 } },
    control: { counts: [10, 1000, 10000], samples: 200, repetitions: 3, memory: { volumes: 500, mounted: 10 } },
    mount: { cliVolumes: 200, cliSftpVolumes: 30, cliRepeats: 10, mountFirst: 5, mountRepeats: 10, coldRuns: 3 },
    sharing: { rounds: 3, sizeMiB: 128, rtts: [0, 10], storm: 60, mountSamples: 5 },
    catalogue: { rounds: 100, removals: 10, idleSeconds: 30, mountedVolumes: [10, 100, 1000], pickup: { volumes: [100, 10000], rtts: [0, 50], rounds: 5 } },
    image: { rounds: 2 },
  },
  quick: {
    data: { 0: { rounds: 1, seqMiB: 32, files: 100 }, 10: { rounds: 1, seqMiB: 8, files: 20 } },
    metadata: { peers: PEER_IDS.filter((p) => ['sshfs-defaults', 'ours', 'rclone'].includes(p)), workloads: DEFAULT_WORKLOADS, files: { 0: 100, 10: 100 }, rounds: { 0: 1, 10: 1 } },
    control: { counts: [10, 1000], samples: 50, repetitions: 1, memory: { volumes: 20, mounted: 3 } },
    mount: { cliVolumes: 20, cliSftpVolumes: 3, cliRepeats: 3, mountFirst: 2, mountRepeats: 3, coldRuns: 1 },
    sharing: { rounds: 1, sizeMiB: 16, rtts: [0, 10], storm: 12, mountSamples: 2 },
    catalogue: { rounds: 20, removals: 3, idleSeconds: 5, mountedVolumes: [10], pickup: { volumes: [100], rtts: [0, 50], rounds: 3 } },
    image: { rounds: 1 },
  },
};
