/** mount: docker volume commands and `docker run -v` latency per driver. */
import { mountLatency, volumeCommands } from '../docker-ops';
import { mountSection } from '../report/mount';
import type { Suite } from '../suite';

export const mountSuite: Suite = {
  id: 'mount',
  summary: 'docker volume create/ls/inspect/rm and docker run -v latency: ours, rclone, local driver',
  minutes: { full: 10, reduced: 2, quick: 1 },
  engineRtts: () => [0],
  params: (sizes) => ({ mount: sizes.mount }),
  steps: () => [
    {
      id: 'mount-latency',
      order: 70,
      engine: true,
      async run(ctx) {
        const s = ctx.sizes.mount;
        await mountLatency(await ctx.world(), ctx.store, ['local-driver', 'ours-local', 'ours-sftp', 'rclone'], s.mountFirst, s.mountRepeats, s.coldRuns);
      },
    },
    {
      id: 'volume-commands',
      order: 71,
      engine: true,
      async run(ctx) {
        const s = ctx.sizes.mount;
        await volumeCommands(await ctx.world(), ctx.store, ['local-driver', 'ours-local', 'rclone', 'ours-sftp'], s.cliVolumes, s.cliRepeats, s.cliSftpVolumes);
      },
    },
  ],
  section: mountSection,
};
