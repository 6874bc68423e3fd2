/** control: VolumeDriver call latency of this build and the baseline (outside Docker), and the plugin's memory in the engine. */
import { controlPath } from '../control-path';
import { memoryWithMounts, memoryWithVolumes, recordMemory } from '../memory';
import { controlSection } from '../report/control';
import type { Suite } from '../suite';

export const controlSuite: Suite = {
  id: 'control',
  summary: 'p50/p99 of every VolumeDriver call, this build vs --baseline; plugin and rclone memory',
  minutes: { full: 12, reduced: 4, quick: 1 },
  engineRtts: () => [0],
  params: (sizes) => ({ control: sizes.control }),
  steps: () => [
    {
      id: 'calls',
      // First of all, while nothing else runs.
      order: 10,
      engine: false,
      run: async (ctx) => controlPath(await ctx.builds(), ctx.sizes.control, ctx.store, ctx.cleanup),
    },
    // The plugin idle first, before any other suite used the engine.
    { id: 'memory-idle', order: 50, engine: true, run: async (ctx) => recordMemory(await ctx.world(), ctx.store, 'idle') },
    {
      id: 'memory-volumes',
      order: 80,
      engine: true,
      run: async (ctx) => memoryWithVolumes(await ctx.world(), ctx.store, ctx.sizes.control.memory.volumes),
    },
    { id: 'memory-mounts', order: 81, engine: true, run: async (ctx) => memoryWithMounts(await ctx.world(), ctx.store, ctx.sizes.control.memory.mounted) },
  ],
  section: controlSection,
};
