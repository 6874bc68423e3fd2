/**
 * The one page of scripts/bench: DIR/benchmarks.md from DIR/benchmarks.json, a section per
 * suite (## data, ## metadata, ...) with what was measured, how, against which peers, on
 * which machine and commit, and the ratios; and the charts the sections draw.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ResultsFile, SuiteRun } from '../lib/results';
import { SUITE_IDS, type SuiteId } from '../suite';
import { SUITES } from '../suites';

const MODE_TEXT: Record<SuiteRun['mode'], string> = {
  full: 'full sizes',
  reduced: '**reduced sizes** (`--sizes reduced`: fewer files, smaller writes, fewer rounds and peers than a full run, so that every suite fits in about 40 minutes; the ratios are what to read)',
  quick: '**quick sizes** (`--quick`, for development: the figures mean nothing)',
};

const minutes = (run: SuiteRun): string => (run.finishedAt === undefined ? 'did not finish' : `${Math.max(1, Math.round((Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 60_000))} min`);

function runLine(id: SuiteId, run: SuiteRun): string {
  const flags = `--only ${id}${run.mode === 'full' ? '' : ` --sizes ${run.mode}`}`;
  return (
    `_Run:_ \`scripts/bench ${flags}\` at commit ${run.commit}, ${run.startedAt.slice(0, 16).replace('T', ' ')} UTC, ${minutes(run)}, ${MODE_TEXT[run.mode]}. ` +
    `_Machine:_ ${Object.entries(run.machine)
      .map(([k, v]) => `${k} ${v}`)
      .join('; ')}.`
  );
}

function section(id: SuiteId, run: SuiteRun | undefined, dir: string, written: Set<string>): string[] {
  const out = [`## ${id}`, ''];
  if (run === undefined) return [...out, `_Not measured yet: \`scripts/bench --only ${id}\`._`, ''];
  const { section: s } = SUITES[id];
  const chart = (name: string, svg: string): string => {
    fs.writeFileSync(path.join(dir, name), svg);
    written.add(name);
    return `![${id}](${name})`;
  };
  out.push(`_What:_ ${s.what}`, '', `_How:_ ${s.how(run)}`, '', '_Peers, side by side:_', '', ...s.peers(run).map((p) => `- ${p}`), '', runLine(id, run), '');
  out.push(...s.body(run, chart));
  if (run.notes.length > 0) out.push('Notes:', '', ...run.notes.map((n) => `- ${n}`), '');
  if (run.errors.length > 0) out.push('Errors during the run:', '', ...run.errors.map((e) => `- ${e.replace(/\n/g, ' ')}`), '');
  return out;
}

/** Writes benchmarks.md and its charts into `dir`, and removes charts of ours it no longer draws. */
export function writePage(results: ResultsFile, dir: string): void {
  const written = new Set<string>();
  const md = [
    '# Benchmarks',
    '',
    'Written by `scripts/bench` from the raw samples in [benchmarks.json](benchmarks.json); `scripts/bench --report-only` rebuilds this page from them. ' +
      'Each section comes from its own run (`scripts/bench --only SUITE` replaces one section and keeps the others), and says which commit, sizes and machine it measured.',
    '',
    '**Reading the tables.** `median · ratio · ±spread`: the ratio is to the best peer in that column (bold, 1.00×) unless the table says otherwise; ' +
      'spread is half the range of the samples (min–max under 10, p10–p90 from 10) over the median. The machine is shared and single figures swing by 10–25 %, ' +
      'so peers alternate within every round and the ratios are what to read.',
    '',
    ...SUITE_IDS.map((id) => `- [${id}](#${id}): ${SUITES[id].summary}`),
    '',
  ];
  for (const id of SUITE_IDS) md.push(...section(id, results.suites[id], dir, written));
  fs.writeFileSync(path.join(dir, 'benchmarks.md'), `${md.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`);
  for (const name of fs.readdirSync(dir)) {
    if (/^benchmarks-.*\.svg$/.test(name) && !written.has(name)) fs.rmSync(path.join(dir, name));
  }
}
