/**
 * The results file of scripts/bench (docs/benchmarks.json): one run per suite, each kept as
 * raw samples so the page can always be rebuilt. A run of some suites replaces theirs and
 * keeps the others'.
 */
import fs from 'node:fs';

export type Better = 'higher' | 'lower';

/** Sizes of a run: the full ones, the reduced ones (a whole run in about 40 minutes), or quick ones (development). */
export const SIZE_MODES = ['full', 'reduced', 'quick'] as const;
export type SizeMode = (typeof SIZE_MODES)[number];

export interface Figure {
  /** The step of the suite that measured it (a resumed run measures a step again from scratch). */
  step: string;
  /** Group within the suite, e.g. "rtt-0" (round-trip time 0 ms). */
  section: string;
  /** What was measured, e.g. "sequential write". */
  test: string;
  peer: string;
  unit: string;
  better: Better;
  /** Repeated measurements; the page shows their median and range. */
  samples: number[];
  /** How one sample was obtained, when it is not obvious (e.g. "p99 of 200 calls"). */
  note?: string;
}

/** One suite's run. */
export interface SuiteRun {
  mode: SizeMode;
  startedAt: string;
  finishedAt?: string;
  /** `git rev-parse --short HEAD`, and whether the tree had uncommitted changes. */
  commit: string;
  machine: Record<string, string>;
  /** The sizes and whatever else the page needs to say how it measured. */
  params: Record<string, unknown>;
  /** Steps done; --resume runs the others. */
  completed: string[];
  figures: Figure[];
  notes: string[];
  errors: string[];
}

const VERSION = 2;

export interface ResultsFile {
  version: typeof VERSION;
  suites: Record<string, SuiteRun>;
}

/** The results in `file`; empty when it is missing or of an earlier format. */
export function loadResults(file: string): ResultsFile {
  if (!fs.existsSync(file)) return { version: VERSION, suites: {} };
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<ResultsFile>;
  return parsed.version === VERSION && parsed.suites !== undefined ? (parsed as ResultsFile) : { version: VERSION, suites: {} };
}

export function saveResults(file: string, results: ResultsFile): void {
  fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(results, null, 1)}\n`);
  fs.renameSync(`${file}.tmp`, file);
}

/** Where the measuring code puts figures: the run of one suite, tagged with the step that runs. */
export class SuiteStore {
  /** The step now running. */
  step = '';

  constructor(
    readonly run: SuiteRun,
    private readonly persist: () => void,
  ) {}

  add(section: string, test: string, peer: string, unit: string, better: Better, value: number, note?: string): void {
    let figure = this.find(section, test, peer);
    if (figure === undefined) {
      figure = { step: this.step, section, test, peer, unit, better, samples: [] };
      if (note !== undefined) figure.note = note;
      this.run.figures.push(figure);
    }
    figure.samples.push(value);
  }

  find(section: string, test: string, peer: string): Figure | undefined {
    return this.run.figures.find((f) => f.section === section && f.test === test && f.peer === peer);
  }

  note(text: string): void {
    this.run.notes.push(text);
  }

  error(message: string): void {
    this.run.errors.push(`${this.step}: ${message}`);
  }

  save(): void {
    this.persist();
  }
}
