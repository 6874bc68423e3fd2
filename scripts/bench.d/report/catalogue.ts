/** The catalogue section: the store catalogue across two hosts, against its targets. */
import { CATALOGUE_TESTS, withMounted, type CatalogueSizes } from '../catalogue';
import { fmt, quantile } from '../lib/stats';
import { pickupBody, pickupHow } from './catalogue-pickup';
import { Figures, table } from './figures';
import type { Section } from './section';

const TARGETS: Record<string, string> = {
  [CATALOGUE_TESTS.unknown]: 'p99 ≤ 5 ms',
  [CATALOGUE_TESTS.visible]: '≤ 1 s',
  [CATALOGUE_TESTS.gone]: '≤ 1 s',
  [CATALOGUE_TESTS.hung]: '≤ 1 s (+ the call)',
  [CATALOGUE_TESTS.idle]: 'about 1',
};

export const catalogueSection: Section = {
  what:
    "The store catalogue across two hosts (two daemons as hosts of one default store): a Get of a name this host does not know, with the store up, remembered, and with the store hung; how long a Create on one host takes to be visible on the other, and a Remove to be gone from the other's List; an idle host's store operations per second; how long a change on one host takes to reach the other's List as the store holds up to 10,000 volumes, and the other host's store operations per change.",
  how(run) {
    const s = (run.params.catalogue ?? {}) as Partial<CatalogueSizes>;
    return (
      `Two daemons outside Docker, one real OpenSSH sshd on loopback. ${s.rounds ?? '?'} Gets of unknown names and of a remembered one, ${Math.min(s.rounds ?? 100, 100)} creates to visible, ` +
      `${s.removals ?? '?'} removes to gone (polling List every 5 ms), ${s.idleSeconds ?? '?'} s of an idle host's store operations counted from its log, the same with ${(s.mountedVolumes ?? []).join(', ') || '?'} store volumes mounted on it (renewal traffic), 5 Gets with the server stopped (SIGSTOP).` +
      pickupHow(s.pickup)
    );
  },
  peers: () => ['**ours** only: no other Docker volume plugin keeps a catalogue of volumes on the server; the figures stand against the issue\'s targets'],
  body(run) {
    const f = new Figures(run);
    const s = (run.params.catalogue ?? {}) as Partial<CatalogueSizes>;
    const renewals = (s.mountedVolumes ?? []).map(withMounted);
    const rows = [...Object.values(CATALOGUE_TESTS), ...renewals].filter((t) => f.get('catalogue', t, 'ours') !== undefined).map((test) => {
      const samples = f.get('catalogue', test, 'ours')?.samples ?? [];
      const unit = f.unit('catalogue', test);
      const figure = unit === 'ms' ? `p50 ${fmt(quantile(samples, 0.5))} ms, p99 ${fmt(quantile(samples, 0.99))} ms, max ${fmt(Math.max(...samples))} ms (n=${samples.length})` : `${fmt(samples[0] ?? NaN)} ${unit}`;
      return [test, figure, TARGETS[test] ?? (renewals.includes(test) ? 'as with 10 (renewal cost does not grow with mounts)' : '')];
    });
    return [...(rows.length > 0 ? [...table(['measure', 'figure', 'target'], rows, false), ''] : []), ...pickupBody(f, s.pickup)];
  },
};
