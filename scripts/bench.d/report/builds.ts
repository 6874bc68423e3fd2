/** This checkout next to the baseline build: the control and sharing sections' shared wording. */
import type { SuiteRun } from '../lib/results';
import { Figures, ratio } from './figures';

export const BUILD_COLORS = { current: '#d62728', baseline: '#7f7f7f' } as const;

/** "8ca796a (dirty)" per build id, as the run recorded them. */
function buildCommits(run: SuiteRun): { current: string; baseline: string } {
  const builds = (run.params.builds ?? []) as { id: string; commit: string }[];
  const of = (id: string): string => builds.find((b) => b.id === id)?.commit ?? '?';
  return { current: of('current'), baseline: of('baseline') };
}

export function buildPeers(run: SuiteRun): string[] {
  const commits = buildCommits(run);
  return [
    `**current**: this checkout, ${commits.current}, \`npm run build\` at the start of the run`,
    `**baseline**: commit ${commits.baseline} (\`--baseline\`), built from \`git archive\` with the same node_modules`,
  ];
}

/** Noise allowance: at least 10 %, or the larger spread of the two medians. */
const NOISE_FLOOR = 0.1;

/** current ÷ baseline of one figure, and whether it is within noise of 1. */
export function versusBaseline(f: Figures, section: string, test: string): { text: string; withinNoise: boolean | undefined } {
  const current = f.stat(section, test, 'current');
  const baseline = f.stat(section, test, 'baseline');
  if (current === undefined || baseline === undefined) return { text: '—', withinNoise: undefined };
  if (baseline.median === 0) return current.median === 0 ? { text: 'equal', withinNoise: true } : { text: '—', withinNoise: false };
  const r = current.median / baseline.median;
  const noise = Math.max(NOISE_FLOOR, current.spread, baseline.spread);
  return { text: ratio(r), withinNoise: Math.abs(r - 1) <= noise };
}

export const NOISE_RULE =
  '"within noise": current ÷ baseline is within 1 ± the larger of 10 % and the two medians\' spreads (half their range over the median).';

export const noiseText = (within: boolean | undefined): string => (within === undefined ? '—' : within ? 'yes' : '**no**');
