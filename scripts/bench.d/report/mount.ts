/** The mount section: docker volume commands and `docker run -v` latency per driver. */
import { OPS } from '../docker-ops';
import { PEERS } from '../env';
import type { SuiteRun } from '../lib/results';
import { fmt, quantile } from '../lib/stats';
import { barChart, type Bar, type Panel } from '../lib/svg';
import { bar, cell, Figures, ratio, table } from './figures';
import type { Section } from './section';
import { targetTable, verdict, type TargetRow } from './targets';

const DRIVERS = ['local-driver', 'ours-local', 'ours-sftp', 'rclone', 'no volume'] as const;
const label = (peer: string): string => (peer === 'no volume' ? 'no volume' : PEERS[peer as keyof typeof PEERS].short);
const color = (peer: string): string => (peer === 'no volume' ? '#c7c7c7' : PEERS[peer as keyof typeof PEERS].color);
const VOLUME_OPS = [OPS.create, OPS.ls, OPS.inspect, OPS.rm];
const RUN_OPS = [OPS.runFirst, OPS.runCold, OPS.runRepeat];

function targets(f: Figures): TargetRow[] {
  const rows: TargetRow[] = [];
  for (const section of ['volume-cli', 'volume-api']) {
    const ours = f.median(section, OPS.create, 'ours-local');
    const local = f.median(section, OPS.create, 'local-driver');
    rows.push({
      target: `\`docker volume create\` within 1.2× of the local driver (${section === 'volume-cli' ? 'CLI' : 'API request, no CLI start-up'})`,
      measured: `ours local ${fmt(ours)} ms vs ${fmt(local)} ms = ${ratio(ours / local)}; ours SFTP ${fmt(f.median(section, OPS.create, 'ours-sftp'))} ms`,
      met: verdict(ours <= 1.2 * local, ours / local),
    });
  }
  const runTargets = [
    [OPS.runRepeat, 20, 'repeated'],
    [OPS.runFirst, 50, 'first (on a server this host already talks to)'],
    [OPS.runCold, 250, 'first ever (no SSH connection to the server yet)'],
  ] as const;
  for (const [test, limit, which] of runTargets) {
    const ours = f.median('mount', test, 'ours-sftp');
    const local = f.median('mount', test, 'local-driver');
    rows.push({ target: `${which} \`docker run -v\` on SFTP ≤ ${limit} ms slower than the local driver`, measured: `${fmt(ours)} vs ${fmt(local)} ms: +${fmt(ours - local)} ms`, met: verdict(ours - local <= limit, ours - local) });
  }
  return rows;
}

function driverTable(f: Figures, section: string, tests: readonly string[]): string[] {
  const peers = DRIVERS.filter((p) => f.has(section, p));
  const rows = tests.filter((t) => peers.some((p) => f.get(section, t, p) !== undefined));
  if (rows.length === 0) return ['_not measured_'];
  const samples = (t: string): string => [...new Set(peers.map((p) => f.get(section, t, p)?.samples.length).filter((n) => n !== undefined))].join('/');
  const compared = peers.filter((p) => p !== 'no volume');
  return table(['ms (median · ×best · ±spread)', ...peers.map(label), 'samples'], rows.map((t) => [t, ...peers.map((p) => cell(f, section, t, p, compared)), samples(t)]));
}

/** The plugin's own duration per call, from its log lines in the engine's log. */
function pluginCallTable(f: Figures, section: string): string[] {
  const calls = f.tests(section);
  if (calls.length === 0) return [];
  const peers = ['ours-local', 'ours-sftp'];
  const text = (call: string, peer: string): string => {
    const s = f.get(section, call, peer)?.samples;
    return s === undefined ? '—' : `${fmt(quantile(s, 0.5))} / ${fmt(quantile(s, 0.9))} / ${fmt(Math.max(...s))} (${s.length})`;
  };
  return table(['call', ...peers.map((p) => `${label(p)}: p50 / p90 / max ms (calls)`)], calls.map((c) => [c, ...peers.map((p) => text(c, p))]));
}

function referenceTable(f: Figures): string[] {
  const rows = f.run.figures.filter((x) => x.section === 'mount-reference');
  if (rows.length === 0) return [];
  return table(['reference', 'p50 ms', 'range', 'samples'], rows.map((r) => [r.test, fmt(quantile(r.samples, 0.5)), `${fmt(Math.min(...r.samples))}–${fmt(Math.max(...r.samples))}`, String(r.samples.length)]));
}

function chart(f: Figures): string {
  const panels: Panel[] = [];
  for (const [section, tests] of [['volume-cli', VOLUME_OPS], ['mount', RUN_OPS]] as const) {
    for (const test of tests) {
      const bars = DRIVERS.map((p) => bar(f, section, test, p, label(p), color(p))).filter((b): b is Bar => b !== undefined);
      if (bars.length > 0) panels.push({ title: test, unit: 'ms, lower is better', bars });
    }
  }
  return barChart('docker commands against each driver', 'bar: median, whisker: p10-p90 (min-max under 10 samples)', panels, 2);
}

const sizes = (run: SuiteRun): Record<string, number> => (run.params.mount ?? {}) as Record<string, number>;

export const mountSection: Section = {
  what:
    'What a user waits for at the engine, per driver: `docker volume create / ls / inspect / rm` with many volumes (through the docker CLI and straight on the API socket), ' +
    'and the wall time of `docker run --rm -v VOL:/d dvs-busybox true` on a fresh volume, on a fresh SFTP volume of a server ours has no connection to yet, and repeated on one volume.',
  how(run) {
    const s = sizes(run);
    return (
      `Loopback only. One driver at a time for volume commands (a \`docker volume ls\` asks every driver): ${s.cliVolumes ?? '?'} volumes (${s.cliSftpVolumes ?? '?'} for ours SFTP, whose Create connects to the server), ` +
      `listed and inspected ${s.cliRepeats ?? '?'} times, removed; creates and removes alternate between the CLI (its own start-up, ~40 ms, included) and the API. ` +
      `Mount latency: ${s.mountFirst ?? '?'} fresh volumes per driver run once, ${s.mountRepeats ?? '?'} runs on one volume, drivers alternating; ${s.coldRuns ?? '?'} first runs 13 s apart (after ours dropped its idle connection) paired with the local driver; "no volume" is the same run without a volume, the floor.`
    );
  },
  peers: () => DRIVERS.filter((p) => p !== 'no volume').map((p) => `**${label(p)}**: ${PEERS[p].label}`),
  body(run, writeChart) {
    const f = new Figures(run);
    return [
      writeChart('benchmarks-mount.svg', chart(f)),
      '',
      ...targetTable(targets(f)),
      '',
      '### mount: docker volume commands, CLI',
      '',
      ...driverTable(f, 'volume-cli', VOLUME_OPS),
      '',
      '### mount: docker volume commands, engine API (no CLI start-up)',
      '',
      ...driverTable(f, 'volume-api', VOLUME_OPS),
      '',
      "The plugin's own time for each call the engine made during these commands (from its log lines):",
      '',
      ...pluginCallTable(f, 'plugin-calls-volumes'),
      '',
      '### mount: `docker run --rm -v VOL:/d dvs-busybox true`',
      '',
      ...driverTable(f, 'mount', RUN_OPS),
      '',
      "The plugin's own time for the calls of these runs, and for reference a raw sshfs mount on the host (same server, best options; returns once connected, then one `stat`) and its unmount:",
      '',
      ...pluginCallTable(f, 'plugin-calls-mount'),
      '',
      ...referenceTable(f),
      '',
    ];
  },
};
