/** metadata: cold walks and small files in fresh host mounts, per round-trip time. */
import { metadataAtRtt } from '../metadata';
import { metadataSection } from '../report/metadata';
import type { Suite } from '../suite';

export const metadataSuite: Suite = {
  id: 'metadata',
  summary: 'cold walks, tar, creates, rm -rf in fresh host mounts: ours, sshfs profiles, rclone; loopback and latency proxy',
  minutes: { full: 120, reduced: 8, quick: 2 },
  engineRtts: () => [],
  params: (sizes) => ({ metadata: { ...sizes.metadata } }),
  steps: (sizes) =>
    Object.keys(sizes.metadata.files)
      .map(Number)
      .map((rtt) => ({
        id: `rtt-${rtt}`,
        order: 20 + rtt / 1000,
        engine: false,
        run: (ctx) => metadataAtRtt(rtt, ctx.sizes.metadata, ctx.dir, ctx.store, ctx.cleanup),
      })),
  section: metadataSection,
};
