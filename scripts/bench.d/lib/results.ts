/** The figures of one run, kept as raw samples so the report can always be rebuilt. */
import fs from 'node:fs';

export type Better = 'higher' | 'lower';

export interface Figure {
  /** Section of the report, e.g. "data-0" (data path at RTT 0 ms). */
  section: string;
  /** Test within the section, e.g. "sequential write". */
  test: string;
  peer: string;
  unit: string;
  better: Better;
  /** Repeated measurements; the report shows their median and range. */
  samples: number[];
  /** How one sample was obtained, when it is not obvious (e.g. "p99 of 200 calls"). */
  note?: string;
}

export interface Results {
  mode: 'quick' | 'full';
  startedAt: string;
  finishedAt?: string;
  machine: Record<string, string>;
  params: Record<string, unknown>;
  figures: Figure[];
  notes: string[];
  errors: string[];
}

export class ResultStore {
  constructor(
    readonly results: Results,
    private readonly file: string,
  ) {}

  add(section: string, test: string, peer: string, unit: string, better: Better, value: number, note?: string): void {
    let figure = this.find(section, test, peer);
    if (figure === undefined) {
      figure = { section, test, peer, unit, better, samples: [] };
      if (note !== undefined) figure.note = note;
      this.results.figures.push(figure);
    }
    figure.samples.push(value);
  }

  find(section: string, test: string, peer: string): Figure | undefined {
    return this.results.figures.find((f) => f.section === section && f.test === test && f.peer === peer);
  }

  error(message: string): void {
    this.results.errors.push(message);
  }

  save(): void {
    fs.writeFileSync(this.file, `${JSON.stringify(this.results, null, 1)}\n`);
  }
}
