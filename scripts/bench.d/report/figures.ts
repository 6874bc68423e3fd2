/** Reading a suite's figures for the page: medians with their spread, ratios, table cells, bars. */
import type { Figure, SuiteRun } from '../lib/results';
import { fmt, median, quantile } from '../lib/stats';
import type { Bar } from '../lib/svg';

export interface Stat {
  median: number;
  low: number;
  high: number;
  n: number;
  /** Half the low-high range as a fraction of the median. */
  spread: number;
}

/** Median with its spread: min-max for fewer than 10 samples, p10-p90 otherwise. */
export function stat(figure: Figure | undefined): Stat | undefined {
  if (figure === undefined || figure.samples.length === 0) return undefined;
  const { samples } = figure;
  const m = median(samples);
  const [low, high] = samples.length >= 10 ? [quantile(samples, 0.1), quantile(samples, 0.9)] : [Math.min(...samples), Math.max(...samples)];
  return { median: m, low, high, n: samples.length, spread: m !== 0 ? (high - low) / 2 / Math.abs(m) : 0 };
}

export class Figures {
  constructor(readonly run: SuiteRun) {}

  get(section: string, test: string, peer: string): Figure | undefined {
    return this.run.figures.find((f) => f.section === section && f.test === test && f.peer === peer);
  }

  stat(section: string, test: string, peer: string): Stat | undefined {
    return stat(this.get(section, test, peer));
  }

  median(section: string, test: string, peer: string): number {
    return this.stat(section, test, peer)?.median ?? NaN;
  }

  /** The best median among `peers` (all when undefined) of one (section, test). */
  best(section: string, test: string, peers?: readonly string[]): number {
    const figures = this.run.figures.filter((f) => f.section === section && f.test === test && (peers === undefined || peers.includes(f.peer)));
    const medians = figures.map((f) => stat(f)?.median ?? NaN).filter(Number.isFinite);
    if (medians.length === 0) return NaN;
    return figures[0]!.better === 'higher' ? Math.max(...medians) : Math.min(...medians);
  }

  /** Sections measured, in the order first seen. */
  sections(prefix = ''): string[] {
    return unique(this.run.figures.map((f) => f.section).filter((s) => s.startsWith(prefix)));
  }

  tests(section: string): string[] {
    return unique(this.run.figures.filter((f) => f.section === section).map((f) => f.test));
  }

  has(section: string, peer: string): boolean {
    return this.run.figures.some((f) => f.section === section && f.peer === peer);
  }

  unit(section: string, test: string): string {
    return this.run.figures.find((f) => f.section === section && f.test === test)?.unit ?? '';
  }

  better(section: string, test: string): 'higher' | 'lower' {
    return this.run.figures.find((f) => f.section === section && f.test === test)?.better ?? 'lower';
  }

  /** Round-trip times of sections named rtt-N, ascending. */
  rtts(): number[] {
    return this.sections('rtt-').map((s) => Number(s.slice('rtt-'.length))).sort((a, b) => a - b);
  }
}

const unique = <T>(items: readonly T[]): T[] => [...new Set(items)];

/** "0.93×"; two significant digits below 0.1 ("0.0049×"). */
export const ratio = (value: number): string => (!Number.isFinite(value) ? '—' : `${Math.abs(value) < 0.1 && value !== 0 ? value.toPrecision(2) : value.toFixed(2)}×`);

export const spread = (s: Stat): string => (s.n > 1 ? ` ±${(s.spread * 100).toFixed(0)}%` : '');

/** "412 ±6%"; "—" when not measured. */
export function value(f: Figures, section: string, test: string, peer: string): string {
  const s = f.stat(section, test, peer);
  return s === undefined ? '—' : `${fmt(s.median)}${spread(s)}`;
}

/** "412 · 0.93× · ±6%": the median, its ratio to the best of `peers` (bold when best), its spread. */
export function cell(f: Figures, section: string, test: string, peer: string, peers?: readonly string[]): string {
  const s = f.stat(section, test, peer);
  if (s === undefined) return '—';
  const r = s.median / f.best(section, test, peers);
  const mark = Math.abs(r - 1) < 1e-9 ? '**' : '';
  return `${mark}${fmt(s.median)}${mark} · ${ratio(r)}${spread(s)}`;
}

/** A Markdown table. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], numeric = true): string[] {
  return [
    `| ${header.join(' | ')} |`,
    `|---|${header.slice(1).map(() => (numeric ? '---:' : '---')).join('|')}|`,
    ...rows.map((row) => `| ${row.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`),
  ];
}

/** A bar of one peer's median with its spread as whisker; undefined when not measured. */
export function bar(f: Figures, section: string, test: string, peer: string, label: string, color: string): Bar | undefined {
  const s = f.stat(section, test, peer);
  return s === undefined ? undefined : { label, value: s.median, low: s.low, high: s.high, color };
}
