/** The control section: VolumeDriver call latency of this build next to the baseline's, and memory. */
import { CALLS } from '../control-path';
import type { Sizes } from '../sizes';
import type { SuiteRun } from '../lib/results';
import { fmt } from '../lib/stats';
import { barChart, type Bar, type Panel } from '../lib/svg';
import { BUILD_COLORS, buildPeers, NOISE_RULE, noRegression, verdictText, versusBaseline } from './builds';
import { bar, Figures, table, value } from './figures';
import type { Section } from './section';
import { targetTable, verdict, type TargetRow } from './targets';

const MEMORY_WHO = { ours: "ours: the plugin's node process", 'ours: sshfs + ssh children': 'ours: its sshfs and ssh processes', rclone: 'rclone serve docker' } as const;
const READS = ['Get', 'List', 'Path', 'Capabilities'];
const CHANGES = ['Create', 'Mount', 'Unmount', 'Remove'];

const counts = (f: Figures): number[] => f.sections('p99-').map((s) => Number(s.slice('p99-'.length))).sort((a, b) => a - b);

function targets(f: Figures): TargetRow[] {
  const rows: TargetRow[] = [];
  const top = Math.max(...counts(f));
  if (Number.isFinite(top)) {
    for (const [calls, limit] of [[READS, 2], [CHANGES, 10]] as const) {
      for (const call of calls) {
        const p99 = f.median(`p99-${top}`, call, 'current');
        rows.push({ target: `${call} p99 ≤ ${limit} ms at ${top} volumes (local backend)`, measured: `${fmt(p99)} ms`, met: verdict(p99 <= limit, p99) });
      }
    }
  }
  for (const count of counts(f)) {
    rows.push(noRegression(`control-path p50 within noise of the baseline or better, every call, ${count} volumes`, CALLS.map((call) => ({ name: call, ...versusBaseline(f, `p50-${count}`, call) }))));
  }
  for (const state of f.tests('memory').filter((t) => / volumes$/.test(t))) {
    const rss = f.median('memory', state, 'ours');
    rows.push({ target: `plugin RSS ≤ 80 MB at ${state}`, measured: `${fmt(rss)} MB`, met: verdict(rss <= 80, rss) });
  }
  return rows;
}

function callTable(f: Figures, count: number): string[] {
  const rows = CALLS.map((call) => {
    const p50 = versusBaseline(f, `p50-${count}`, call);
    const p99 = versusBaseline(f, `p99-${count}`, call);
    return [call, `${value(f, `p50-${count}`, call, 'current')} / ${value(f, `p99-${count}`, call, 'current')}`, `${value(f, `p50-${count}`, call, 'baseline')} / ${value(f, `p99-${count}`, call, 'baseline')}`, p50.text, p99.text, verdictText(p50.verdict)];
  });
  for (const call of ['Capabilities', 'List']) {
    if (f.get(`p50-${count}`, call, 'floor') === undefined) continue;
    rows.push([`_floor: ${call} on a bare node HTTP server_`, `${value(f, `p50-${count}`, call, 'floor')} / ${value(f, `p99-${count}`, call, 'floor')}`, '', '', '', '']);
  }
  return table(['call', 'current p50 / p99 ms', 'baseline p50 / p99 ms', 'p50 current ÷ baseline', 'p99 current ÷ baseline', 'p50 verdict'], rows);
}

function daemonTable(f: Figures): string[] {
  const rows: string[][] = [];
  for (const [section, label] of [['rss', 'daemon RSS (MB)'], ['fill', 'fill time (s, 100 Creates in flight)']] as const) {
    for (const test of f.tests(section)) {
      rows.push([`${label}, ${test}`, value(f, section, test, 'current'), value(f, section, test, 'baseline'), versusBaseline(f, section, test).text]);
    }
  }
  return rows.length === 0 ? [] : table(['daemon outside Docker', 'current', 'baseline', 'current ÷ baseline'], rows);
}

function memoryTable(f: Figures): string[] {
  const states = f.tests('memory');
  if (states.length === 0) return [];
  const who = Object.keys(MEMORY_WHO) as (keyof typeof MEMORY_WHO)[];
  const rclone = (state: string): string => {
    const r = f.median('memory', state, 'ours') / f.median('memory', state, 'rclone');
    return Number.isFinite(r) ? `${r.toFixed(2)}×` : '—';
  };
  return table(['RSS in the engine (MB)', ...who.map((w) => MEMORY_WHO[w]), 'ours ÷ rclone'], states.map((s) => [s, ...who.map((w) => value(f, 'memory', s, w)), rclone(s)]));
}

function chart(f: Figures): string {
  const panels: Panel[] = [];
  for (const count of counts(f)) {
    for (const [which, calls] of [['reads', READS], ['changes', CHANGES]] as const) {
      const bars = calls.flatMap((call) =>
        (['current', 'baseline'] as const).map((build) => bar(f, `p50-${count}`, call, build, `${call}, ${build === 'current' ? 'this' : 'base'}`, BUILD_COLORS[build])).filter((b): b is Bar => b !== undefined),
      );
      if (bars.length > 0) panels.push({ title: `p50 of ${which}, ${count} volumes`, unit: 'ms, lower is better', bars });
    }
  }
  const memory = f.tests('memory').flatMap((state) => {
    const b = bar(f, 'memory', state, 'ours', `ours, ${state}`, BUILD_COLORS.current);
    return b === undefined ? [] : [b];
  });
  if (memory.length > 0) panels.push({ title: "RSS of the plugin's node process in the engine", unit: 'MB, lower is better', bars: memory, threshold: { value: 80, label: 'target 80 MB' } });
  return barChart('Control path: VolumeDriver calls on the socket, this build (this) and the baseline (base)', 'bar: median over the daemons, whisker: their range', panels, 2);
}

const sizes = (run: SuiteRun): Partial<Sizes['control']> => run.params.control ?? {};

export const controlSection: Section = {
  what:
    'Latency of every VolumeDriver call (Create, Mount, Unmount, Remove, Get, List, Path, Capabilities) on the plugin socket, driven the way the engine drives it, ' +
    "with the daemon (`node dist/main.js` with the plugin's node flags) outside Docker and local volumes: the daemon's own cost (protocol, service, locking, durable state write). " +
    "This build and a baseline build run side by side. Also the plugin's memory in the engine: idle, holding many volumes, with SFTP volumes mounted by running containers, next to rclone.",
  how(run) {
    const s = sizes(run);
    return (
      `${s.samples ?? '?'} sequential calls of each kind per daemon, after filling it with ${(s.counts ?? []).join(', ')} volumes (100 Creates in flight); ` +
      `${s.repetitions ?? '?'} fresh daemon(s) per build and count, the builds alternating and the order of counts rotating; cells are medians over the daemons of each daemon's p50 / p99, ± half their range. ` +
      `The floor is the same client against a do-nothing node HTTP server (Capabilities, and List of as many entries): what this machine and the reply's size cost alone. ` +
      `Memory: RSS from /proc, median of three readings after the state settled; ${s.memory?.volumes ?? '?'} local volumes of ours and as many of rclone, ${s.memory?.mounted ?? '?'} SFTP volumes mounted per driver.`
    );
  },
  peers: (run) => [...buildPeers(run), '**floor**: a bare node HTTP server on a Unix socket', '**rclone**: `rclone serve docker` (memory only)'],
  body(run, writeChart) {
    const f = new Figures(run);
    const out = [writeChart('benchmarks-control.svg', chart(f)), '', ...targetTable(targets(f)), '', NOISE_RULE, ''];
    for (const count of counts(f)) out.push(`### control: ${count} volumes`, '', ...callTable(f, count), '');
    out.push(...daemonTable(f), '', ...memoryTable(f), '');
    return out;
  },
};
