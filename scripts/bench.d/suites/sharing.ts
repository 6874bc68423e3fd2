/** sharing: connection sharing, this build next to the baseline, per round-trip time. */
import { sharingSection } from '../report/sharing';
import { sharingAtRtt } from '../sharing';
import type { Suite } from '../suite';

export const sharingSuite: Suite = {
  id: 'sharing',
  summary: 'shared SSH connections (Mounts, MB/s, a storm of Mounts), this build vs --baseline; 0 and 10 ms',
  minutes: { full: 8, reduced: 5, quick: 1 },
  engineRtts: () => [],
  params: (sizes) => ({ sharing: sizes.sharing }),
  steps: (sizes) =>
    sizes.sharing.rtts.map((rtt) => ({
      id: `rtt-${rtt}`,
      order: 30 + rtt / 1000,
      engine: false,
      run: async (ctx) => sharingAtRtt(await ctx.builds(), rtt, ctx.sizes.sharing, ctx.store, ctx.cleanup),
    })),
  section: sharingSection,
};
