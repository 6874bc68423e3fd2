/** This checkout next to the baseline build: the control and sharing sections' shared wording. */
import type { SuiteRun } from '../lib/results';
import { Figures, ratio } from './figures';
import type { TargetRow } from './targets';

export const BUILD_COLORS = { current: '#d62728', baseline: '#7f7f7f' } as const;

/** "8ca796a (dirty)" per build id, as the run recorded them. */
export function buildCommits(run: SuiteRun): { current: string; baseline: string } {
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

/** How this build's median compares with the baseline's, beyond the noise or not. */
export type Verdict = 'within noise' | 'better' | 'worse';

/** current ÷ baseline of one figure, and the verdict (undefined: not measured by both). */
export function versusBaseline(f: Figures, section: string, test: string): { text: string; verdict: Verdict | undefined } {
  const current = f.stat(section, test, 'current');
  const baseline = f.stat(section, test, 'baseline');
  if (current === undefined || baseline === undefined) return { text: '—', verdict: undefined };
  const higherIsBetter = f.better(section, test) === 'higher';
  const better = (x: number, y: number): boolean => (higherIsBetter ? x > y : x < y);
  if (baseline.median === 0) return { text: current.median === 0 ? 'equal' : '—', verdict: current.median === 0 ? 'within noise' : better(current.median, 0) ? 'better' : 'worse' };
  const r = current.median / baseline.median;
  const noise = Math.max(NOISE_FLOOR, current.spread, baseline.spread);
  return { text: ratio(r), verdict: Math.abs(r - 1) <= noise ? 'within noise' : better(current.median, baseline.median) ? 'better' : 'worse' };
}

export const NOISE_RULE =
  'Verdict: "within noise" when current ÷ baseline is within 1 ± the larger of 10 % and the two medians\' spreads (half their range over the median); otherwise "better" or "worse".';

export const verdictText = (verdict: Verdict | undefined): string => (verdict === undefined ? '—' : verdict === 'worse' ? '**worse**' : verdict);

/** A target row over several figures: met when none is worse than the baseline beyond the noise. */
export function noRegression(target: string, checks: { name: string; text: string; verdict: Verdict | undefined }[]): TargetRow {
  const measured = checks.filter((c) => c.verdict !== undefined);
  const worse = measured.filter((c) => c.verdict === 'worse');
  return {
    target,
    measured: measured.length === 0 ? 'not measured' : worse.length === 0 ? measured.map((c) => `${c.name} ${c.text}`).join(', ') : `worse: ${worse.map((c) => `${c.name} ${c.text}`).join('; ')}`,
    met: measured.length === 0 ? undefined : worse.length === 0,
  };
}
