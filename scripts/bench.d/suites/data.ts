/** data: throughput and small files through containers, every peer, per round-trip time. */
import { dataPath } from '../data-path';
import type { Target } from '../env';
import { dataSection } from '../report/data';
import type { Suite } from '../suite';

const rttsOf = (table: Record<number, unknown>): number[] => Object.keys(table).map(Number);

export const dataSuite: Suite = {
  id: 'data',
  summary: 'sequential MB/s and small files in containers: ours, rclone, raw sshfs, local driver; loopback and latency proxy',
  minutes: { full: 40, reduced: 8, quick: 2 },
  engineRtts: (sizes) => rttsOf(sizes.data),
  params: (sizes) => ({ data: sizes.data }),
  steps: (sizes) =>
    rttsOf(sizes.data).map((rtt) => ({
      id: `rtt-${rtt}`,
      order: 60 + rtt / 1000,
      engine: true,
      async run(ctx) {
        const world = await ctx.world();
        const targets: Target[] = [
          await world.volumeTarget('ours-sftp', rtt),
          await world.volumeTarget('rclone', rtt),
          await world.sshfsTarget('sshfs-defaults', rtt),
          await world.sshfsTarget('sshfs-best', rtt),
          await world.sshfsTarget('sshfs-best-ra', rtt),
        ];
        if (rtt === 0) targets.push(await world.volumeTarget('ours-local', 0), await world.volumeTarget('local-driver', 0));
        await dataPath(world, ctx.store, targets, ctx.sizes.data[rtt]!);
      },
    })),
  section: dataSection,
};
