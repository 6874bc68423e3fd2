/** image: the plugin image's build time and rootfs size, this build vs --baseline. */
import { imageBuilds } from '../image-build';
import { imageSection } from '../report/image';
import type { Suite } from '../suite';

export const imageSuite: Suite = {
  id: 'image',
  summary: 'the plugin image: docker build time (no cache, and after a change in src/) and rootfs size, this build vs --baseline',
  minutes: { full: 20, reduced: 14, quick: 7 },
  engineRtts: () => [],
  params: (sizes) => ({ image: sizes.image }),
  steps: () => [
    {
      id: 'builds',
      order: 80,
      engine: true,
      async run(ctx) {
        const baseline = (await ctx.commits()).find((b) => b.id === 'baseline');
        if (baseline === undefined) throw new Error('no baseline build');
        await imageBuilds(await ctx.world(), ctx.store, baseline.commit, ctx.sizes.image, ctx.dir);
      },
    },
  ],
  section: imageSection,
};
