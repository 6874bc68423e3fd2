/** What one suite contributes to docs/benchmarks.md; the page adds the run's mode, commit, machine and date. */
import type { SuiteRun } from '../lib/results';

/** Writes a chart next to the page and returns the Markdown that shows it. */
export type ChartWriter = (name: string, svg: string) => string;

export interface Section {
  /** What was measured, one paragraph. */
  what: string;
  /** How: sizes, rounds, round-trip times, order of peers (from the run's params). */
  how(run: SuiteRun): string;
  /** The peers compared side by side, one bullet each. */
  peers(run: SuiteRun): string[];
  /** Charts, tables (with ratios), targets. */
  body(run: SuiteRun, chart: ChartWriter): string[];
}
