/** The catalogue section's pick-up table: a change on one host seen by another, as the store holds more volumes. */
import { PICKUP_SECTION, PICKUP_TESTS, type PickupSizes } from '../catalogue-pickup';
import { fmt, median, quantile } from '../lib/stats';
import { table, type Figures } from './figures';
import { targetTable } from './targets';

/** The case: this many volumes at B's round-trip time, compared with SMALL volumes. */
const TARGET = { volumes: 10000, rtt: 50 };
const SMALL = 100;

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
  // The criterion: no re-read of every record, so a pick-up costs at 10,000 volumes what it costs at 100.
  const fullReads = samplesOf(f, PICKUP_TESTS.fullReads(TARGET.volumes, TARGET.rtt));
  const operations = samplesOf(f, PICKUP_TESTS.operations(TARGET.volumes, TARGET.rtt));
  const fewOperations = samplesOf(f, PICKUP_TESTS.operations(SMALL, TARGET.rtt));
  const measuredBoth = fullReads.length > 0 && operations.length > 0 && fewOperations.length > 0;
  const withoutRereading = measuredBoth ? median(fullReads) === 0 && median(operations) <= median(fewOperations) : undefined;
  return [
    '### A change picked up, as the store holds more volumes',
    '',
    "B's List answers from its memory: these are the times until B has picked up A's change. Store operations are those B's debug log names (one per piece of work on the store, however many SFTP requests it takes: a listing of volumes/ with its reads of changed records is one); full listings are those of the whole catalogue (`list the volume records`). The notes list them by kind.",
    '',
    ...table(['store volumes', "B's RTT", 'Create → in B\'s List, p50 / max', 'Remove → gone from B\'s List, p50 / max', "B's store operations per pick-up (median)", 'of them full listings (median)'], rows),
    '',
    ...targetTable([
      {
        target: `a change picked up without re-reading every record at ${TARGET.volumes.toLocaleString('en')} volumes, ${TARGET.rtt} ms RTT: no full listing, and no more store operations per pick-up than at ${SMALL} volumes`,
        measured: measuredBoth ? `${medianOf(fullReads)} full listings, ${medianOf(operations)} operations (${medianOf(fewOperations)} at ${SMALL})` : '—',
        met: withoutRereading,
      },
    ]),
    '',
    `Time to pick up a change at ${TARGET.volumes.toLocaleString('en')} volumes and ${TARGET.rtt} ms RTT, up to 1 s of it waiting for B's next poll of the change marker: p50 ${created.length > 0 ? fmt(quantile(created, 0.5)) : '—'} ms for a Create, ${removed.length > 0 ? fmt(quantile(removed, 0.5)) : '—'} ms for a Remove.`,
    '',
  ];
}
