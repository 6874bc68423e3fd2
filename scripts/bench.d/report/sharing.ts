/** The sharing section: connection sharing of this build next to the baseline's, per round-trip time. */
import type { SuiteRun } from '../lib/results';
import type { SharingSizes } from '../sharing';
import { SHARING_FIGURES, type SharingFigure } from '../sharing';
import { barChart, type Bar, type Panel } from '../lib/svg';
import { BUILD_COLORS, buildPeers, NOISE_RULE, noRegression, verdictText, versusBaseline } from './builds';
import { bar, Figures, table, value } from './figures';
import type { Section } from './section';
import { targetTable, type TargetRow } from './targets';

const FIGURES = Object.keys(SHARING_FIGURES) as SharingFigure[];
const label = (figure: string): string => {
  const info = SHARING_FIGURES[figure as SharingFigure];
  return `${info.label} (${info.unit})`;
};

function targets(f: Figures): TargetRow[] {
  return f.rtts().map((rtt) =>
    noRegression(
      `sharing figures within noise of the baseline or better, RTT ${rtt} ms`,
      FIGURES.map((figure) => ({ name: SHARING_FIGURES[figure].label, ...versusBaseline(f, `rtt-${rtt}`, figure) })),
    ),
  );
}

function rttTable(f: Figures, rtt: number): string[] {
  const section = `rtt-${rtt}`;
  return table(
    ['median of the rounds', 'current', 'baseline', 'current ÷ baseline', 'verdict'],
    f.tests(section).map((figure) => {
      const v = versusBaseline(f, section, figure);
      return [label(figure), value(f, section, figure, 'current'), value(f, section, figure, 'baseline'), v.text, verdictText(v.verdict)];
    }),
  );
}

function chart(f: Figures): string {
  const panels: Panel[] = [];
  for (const rtt of f.rtts()) {
    for (const figure of FIGURES) {
      const bars = (['current', 'baseline'] as const).map((b) => bar(f, `rtt-${rtt}`, figure, b, b, BUILD_COLORS[b])).filter((b): b is Bar => b !== undefined);
      if (bars.length > 0) panels.push({ title: `${SHARING_FIGURES[figure].label}, RTT ${rtt} ms`, unit: `${SHARING_FIGURES[figure].unit}, ${SHARING_FIGURES[figure].better} is better`, bars });
    }
  }
  return barChart('Connection sharing: this build and the baseline', 'bar: median of the rounds, whisker: their range', panels, 3);
}

export const sharingSection: Section = {
  what:
    "Connection sharing, this build next to the baseline build: Mount latency on a server this host has no mount of and on one it has, sequential MB/s of one volume and of four at once, a storm of simultaneous Mounts (failures, time), and the SSH connections the server holds while the storm's volumes all write.",
  how(run) {
    const s = (run.params.sharing ?? {}) as Partial<SharingSizes>;
    return (
      `Both daemons run outside Docker (\`node MAIN\`) against one OpenSSH sshd with stock MaxStartups, at RTT ${(s.rtts ?? []).join(' and ')} ms (0: loopback; others through a latency proxy). ` +
      `${s.rounds ?? '?'} round(s), a fresh daemon per build and round, the builds alternating and their order flipping each round; ${s.mountSamples ?? '?'} Mounts timed per figure (their median), ` +
      `${s.sizeMiB ?? '?'} MiB per volume written (dd conv=fsync) and read after dropping caches, a storm of ${s.storm ?? '?'} Mounts.`
    );
  },
  peers: buildPeers,
  body(run: SuiteRun, writeChart) {
    const f = new Figures(run);
    const out = [writeChart('benchmarks-sharing.svg', chart(f)), '', ...targetTable(targets(f)), '', NOISE_RULE, ''];
    for (const rtt of f.rtts()) out.push(`### sharing: RTT ${rtt} ms`, '', ...rttTable(f, rtt), '');
    return out;
  },
};
