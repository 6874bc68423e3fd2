/** The catalogue section's pick-up table: a change on one host seen by another, as the store holds more volumes. */
import { PICKUP_SECTION, PICKUP_TESTS, type PickupSizes } from '../catalogue-pickup';
import { fmt, median, quantile } from '../lib/stats';
import { table, type Figures } from './figures';
import { targetTable, verdict } from './targets';

/** The target: at this many volumes and B's round-trip time. */
const TARGET = { volumes: 10000, rtt: 50, ms: 1000 };

export function pickupHow(s: Partial<PickupSizes> | undefined): string {
  if (s === undefined) return '';
  return (
    ` A change picked up: ${(s.volumes ?? []).join(' and ')} store volumes (a few created through host A, the others written as record files into the store directory), ` +
    `host B behind a latency proxy at ${(s.rtts ?? []).join(' and ')} ms RTT (its first read of them at 0 ms, then 3 s at the RTT); ${s.rounds ?? '?'} Creates on A and their Removes, each at a random phase of B's once-a-second poll, ` +
    "timed from A's reply until the name is in B's List (polled every 5 ms), then its Remove until gone; B's store operations from each Create to its appearance counted from B's debug log."
  );
}

const samplesOf = (f: Figures, test: string): number[] => f.get(PICKUP_SECTION, test, 'ours')?.samples ?? [];

const p50max = (samples: readonly number[]): string => (samples.length === 0 ? '—' : `${fmt(quantile(samples, 0.5))} / ${fmt(Math.max(...samples))} ms`);

const medianOf = (samples: readonly number[]): string => (samples.length === 0 ? '—' : fmt(median(samples)));

export function pickupBody(f: Figures, s: Partial<PickupSizes> | undefined): string[] {
  const cases = (s?.volumes ?? []).flatMap((volumes) => (s?.rtts ?? []).map((rtt) => ({ volumes, rtt })));
  const rows = cases
    .filter(({ volumes, rtt }) => f.get(PICKUP_SECTION, PICKUP_TESTS.create(volumes, rtt), 'ours') !== undefined)
    .map(({ volumes, rtt }) => [
      volumes.toLocaleString('en'),
      `${rtt} ms`,
      p50max(samplesOf(f, PICKUP_TESTS.create(volumes, rtt))),
      p50max(samplesOf(f, PICKUP_TESTS.remove(volumes, rtt))),
      medianOf(samplesOf(f, PICKUP_TESTS.operations(volumes, rtt))),
      medianOf(samplesOf(f, PICKUP_TESTS.fullReads(volumes, rtt))),
    ]);
  if (rows.length === 0) return [];
  const created = samplesOf(f, PICKUP_TESTS.create(TARGET.volumes, TARGET.rtt));
  const removed = samplesOf(f, PICKUP_TESTS.remove(TARGET.volumes, TARGET.rtt));
  // Both kinds of change; NaN (not measured) when either is missing.
  const worst = created.length > 0 && removed.length > 0 ? Math.max(quantile(created, 0.5), quantile(removed, 0.5)) : NaN;
  return [
    '### A change picked up, as the store holds more volumes',
    '',
    "B's List answers from its memory: these are the times until B has picked up A's change. Store operations are those B's debug log names (one per piece of work on the store, however many SFTP requests it takes: a listing of volumes/ with its reads of changed records is one); full listings are those of the whole catalogue (`list the volume records`). The notes list them by kind.",
    '',
    ...table(['store volumes', "B's RTT", 'Create → in B\'s List, p50 / max', 'Remove → gone from B\'s List, p50 / max', "B's store operations per pick-up (median)", 'of them full listings (median)'], rows),
    '',
    ...targetTable([
      {
        target: `a change picked up in ≤ 1 s at ${TARGET.volumes.toLocaleString('en')} volumes, ${TARGET.rtt} ms RTT (p50 of Create and of Remove)`,
        measured: Number.isFinite(worst) ? `${fmt(worst)} ms` : '—',
        met: verdict(worst <= TARGET.ms, worst),
      },
    ]),
    '',
  ];
}
