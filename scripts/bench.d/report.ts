/**
 * docs/benchmarks.md and the SVG charts, from the results of one run (docs/benchmarks.json).
 * `npx tsx scripts/bench.d/report.ts [DIR]` rebuilds them without measuring anything.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CALLS } from './control-path';
import { TESTS } from './data-path';
import { OPS } from './docker-ops';
import { PEERS, type PeerId } from './env';
import type { Figure, Results } from './lib/results';
import { fmt, quantile, summarize } from './lib/stats';
import { barChart, type Bar, type Panel } from './lib/svg';

const EXTRA: Record<string, { label: string; short: string; color: string }> = {
  'no volume': { label: 'no volume (floor)', short: 'no volume', color: '#c7c7c7' },
  ours: { label: "ours: the plugin's node process", short: 'ours (node)', color: '#d62728' },
  'ours: sshfs + ssh children': { label: 'ours: its sshfs and ssh processes', short: 'ours sshfs+ssh', color: '#ff9896' },
  rclone: { label: 'rclone serve docker (one process)', short: 'rclone', color: '#2ca02c' },
};

const peerInfo = (peer: string): { label: string; short: string; color: string } =>
  (PEERS as Record<string, { label: string; short: string; color: string }>)[peer] ?? EXTRA[peer] ?? { label: peer, short: peer, color: '#999' };

const NETWORK_PEERS: PeerId[] = ['ours-sftp', 'rclone', 'sshfs-defaults', 'sshfs-best', 'sshfs-best-ra'];
const LOCAL_PEERS: PeerId[] = ['ours-local', 'local-driver'];
const DATA_PEERS: PeerId[] = [...NETWORK_PEERS, ...LOCAL_PEERS];
const DRIVER_PEERS = ['local-driver', 'ours-local', 'ours-sftp', 'rclone', 'no volume'];
const DATA_TESTS = Object.values(TESTS);

// ------------------------------------------------------------------ figures

interface Stat {
  median: number;
  low: number;
  high: number;
  n: number;
  /** Half the low-high range as a fraction of the median. */
  spread: number;
}

/** Median with its spread: min-max for fewer than 10 samples, p10-p90 otherwise. */
function stat(figure: Figure | undefined): Stat | undefined {
  if (figure === undefined || figure.samples.length === 0) return undefined;
  const s = summarize(figure.samples);
  const [low, high] = s.n >= 10 ? [quantile(figure.samples, 0.1), quantile(figure.samples, 0.9)] : [s.min, s.max];
  return { median: s.median, low, high, n: s.n, spread: s.median !== 0 ? (high - low) / 2 / Math.abs(s.median) : 0 };
}

class Figures {
  constructor(readonly results: Results) {}

  get(section: string, test: string, peer: string): Figure | undefined {
    return this.results.figures.find((f) => f.section === section && f.test === test && f.peer === peer);
  }

  median(section: string, test: string, peer: string): number {
    return stat(this.get(section, test, peer))?.median ?? NaN;
  }

  /** The best median among the peers of a (section, test). */
  best(section: string, test: string, peers?: readonly string[]): number {
    const figures = this.results.figures.filter((f) => f.section === section && f.test === test && (peers === undefined || peers.includes(f.peer)));
    const medians = figures.map((f) => stat(f)!.median).filter(Number.isFinite);
    if (medians.length === 0) return NaN;
    return figures[0]!.better === 'higher' ? Math.max(...medians) : Math.min(...medians);
  }

  sections(prefix: string): string[] {
    return [...new Set(this.results.figures.map((f) => f.section).filter((s) => s.startsWith(prefix)))];
  }
}

/** "412 · 0.93× · ±6%" for a table cell; "—" when not measured. */
function cell(figures: Figures, section: string, test: string, peer: string, peers?: readonly string[]): string {
  const s = stat(figures.get(section, test, peer));
  if (s === undefined) return '—';
  const best = figures.best(section, test, peers);
  const ratio = s.median / best;
  const ratioText = Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '';
  const mark = Math.abs(ratio - 1) < 1e-9 ? '**' : '';
  const spread = s.n > 1 ? ` ±${(s.spread * 100).toFixed(0)}%` : '';
  return `${mark}${fmt(s.median)}${mark} · ${ratioText}${spread}`;
}

// ------------------------------------------------------------------ targets

export interface TargetRow {
  target: string;
  measured: string;
  met: boolean | undefined;
}

function evaluateTargets(f: Figures): TargetRow[] {
  const rows: TargetRow[] = [];
  const verdict = (ok: boolean, value: number): boolean | undefined => (Number.isFinite(value) ? ok : undefined);
  const rawPeers = ['sshfs-defaults', 'sshfs-best', 'sshfs-best-ra'];
  for (const test of [TESTS.seqWrite, TESTS.seqRead]) {
    const ours = f.median('data-0', test, 'ours-sftp');
    const bestRaw = f.best('data-0', test, rawPeers);
    const defaults = f.median('data-0', test, 'sshfs-defaults');
    const which = rawPeers.find((p) => f.median('data-0', test, p) === bestRaw) ?? '?';
    rows.push({
      target: `SFTP ${test} ≥ 0.9× best raw sshfs (loopback)`,
      measured: `${fmt(ours)} vs ${fmt(bestRaw)} MB/s (${peerInfo(which).short}) = ${(ours / bestRaw).toFixed(2)}×`,
      met: verdict(ours >= 0.9 * bestRaw, ours / bestRaw),
    });
    rows.push({
      target: `SFTP ${test} ≥ 1.5× sshfs defaults (loopback)`,
      measured: `${fmt(ours)} vs ${fmt(defaults)} MB/s = ${(ours / defaults).toFixed(2)}×`,
      met: verdict(ours >= 1.5 * defaults, ours / defaults),
    });
  }
  for (const section of f.sections('data-')) {
    const rtt = section.slice('data-'.length);
    const lost: string[] = [];
    let compared = 0;
    for (const test of DATA_TESTS) {
      const ours = f.median(section, test, 'ours-sftp');
      const rclone = f.median(section, test, 'rclone');
      if (!Number.isFinite(ours) || !Number.isFinite(rclone)) continue;
      compared += 1;
      if (ours < rclone) lost.push(`${test} ${(ours / rclone).toFixed(2)}×`);
    }
    rows.push({
      target: `SFTP ≥ rclone on every data test, RTT ${rtt} ms`,
      measured: compared === 0 ? 'not measured' : lost.length === 0 ? `${compared}/${compared} tests at or above rclone` : `below rclone: ${lost.join('; ')}`,
      met: compared === 0 ? undefined : lost.length === 0,
    });
  }
  const counts = controlCounts(f).map(Number);
  const top = Math.max(...counts);
  if (Number.isFinite(top)) {
    for (const [calls, limit] of [[['Get', 'List', 'Path', 'Capabilities'], 2], [['Create', 'Mount', 'Unmount', 'Remove'], 10]] as const) {
      for (const call of calls) {
        const p99 = f.median('control-p99', call, String(top));
        rows.push({ target: `${call} p99 ≤ ${limit} ms at ${top} volumes${limit === 10 ? ' (local backend)' : ''}`, measured: `${fmt(p99)} ms`, met: verdict(p99 <= limit, p99) });
      }
    }
  }
  for (const section of ['volume-cli', 'volume-api']) {
    const ours = f.median(section, OPS.create, 'ours-local');
    const local = f.median(section, OPS.create, 'local-driver');
    rows.push({
      target: `\`docker volume create\` within 1.2× of the local driver (${section === 'volume-cli' ? 'CLI' : 'API request, no CLI start-up'})`,
      measured: `ours local ${fmt(ours)} ms vs ${fmt(local)} ms = ${(ours / local).toFixed(2)}×; ours SFTP ${fmt(f.median(section, OPS.create, 'ours-sftp'))} ms`,
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
    if (!Number.isFinite(ours) || !Number.isFinite(local)) continue;
    rows.push({
      target: `${which} \`docker run -v\` on SFTP ≤ ${limit} ms slower than the local driver`,
      measured: `${fmt(ours)} vs ${fmt(local)} ms: +${fmt(ours - local)} ms`,
      met: verdict(ours - local <= limit, ours - local),
    });
  }
  const memStates = [...new Set(f.results.figures.filter((x) => x.section === 'memory' && / volumes$/.test(x.test)).map((x) => x.test))];
  for (const state of memStates) {
    const rss = f.median('memory', state, 'ours');
    rows.push({ target: `plugin RSS ≤ 80 MB at ${state}`, measured: `${fmt(rss)} MB`, met: verdict(rss <= 80, rss) });
  }
  return rows;
}

// ------------------------------------------------------------------ charts

function bar(figures: Figures, section: string, test: string, peer: string): Bar | undefined {
  const s = stat(figures.get(section, test, peer));
  if (s === undefined) return undefined;
  const info = peerInfo(peer);
  return { label: info.short, value: s.median, low: s.low, high: s.high, color: info.color };
}

function panels(figures: Figures, section: string, tests: readonly string[], peers: readonly string[], titles?: Record<string, string>): Panel[] {
  return tests
    .map((test) => {
      const bars = peers.map((p) => bar(figures, section, test, p)).filter((b): b is Bar => b !== undefined);
      const unit = figures.results.figures.find((x) => x.section === section && x.test === test)?.unit ?? '';
      return { title: titles?.[test] ?? test, unit: `${unit}, ${figures.results.figures.find((x) => x.section === section && x.test === test)?.better === 'higher' ? 'higher' : 'lower'} is better`, bars };
    })
    .filter((p) => p.bars.length > 0);
}

function writeCharts(f: Figures, dir: string, subtitle: string): string[] {
  const written: string[] = [];
  const put = (name: string, svg: string): void => {
    fs.writeFileSync(path.join(dir, name), svg);
    written.push(name);
  };
  for (const section of f.sections('data-')) {
    const rtt = section.slice(5);
    const p = panels(f, section, DATA_TESTS, NETWORK_PEERS);
    if (p.length > 0) put(`benchmarks-data-rtt${rtt}.svg`, barChart(`Data path through containers over SFTP, RTT ${rtt} ms`, `${subtitle}; bar: median, whisker: range of the runs`, p, 2));
    const local = panels(f, section, DATA_TESTS, LOCAL_PEERS);
    if (local.length > 0) put('benchmarks-data-local.svg', barChart('Data path through containers, local disk', `${subtitle}; bar: median, whisker: range of the runs`, local, 3));
  }
  const counts = controlCounts(f);
  if (counts.length > 0) {
    const ctl: Panel[] = [];
    for (const [calls, limit, name] of [[['Get', 'List', 'Path', 'Capabilities'], 2, 'reads'], [['Create', 'Mount', 'Unmount', 'Remove'], 10, 'changes']] as const) {
      for (const count of counts) {
        const bars: Bar[] = calls.map((call) => ({
          label: call,
          value: f.median('control-p99', call, count),
          color: name === 'reads' ? '#1f77b4' : '#d62728',
          text: `${fmt(f.median('control-p99', call, count))} (p50 ${fmt(f.median('control-p50', call, count))})`,
        }));
        if (name === 'reads') {
          for (const call of ['Capabilities', 'List']) {
            const v = f.median('control-floor-p99', call, count);
            if (Number.isFinite(v)) bars.push({ label: `floor ${call}`, value: v, color: '#c7c7c7', text: `${fmt(v)} (p50 ${fmt(f.median('control-floor-p50', call, count))})` });
          }
        }
        ctl.push({ title: `p99 of ${name}, ${count} volumes`, unit: 'ms', bars, threshold: { value: limit, label: `target ${limit} ms` } });
      }
    }
    put('benchmarks-control-path.svg', barChart('VolumeDriver calls on the plugin socket (daemon outside Docker, local volumes)', `${subtitle}; p99 (p50 in brackets)`, ctl, counts.length));
  }
  const ops: Panel[] = [
    ...panels(f, 'volume-cli', [OPS.create, OPS.ls, OPS.inspect, OPS.rm], DRIVER_PEERS),
    ...panels(f, 'mount', [OPS.runFirst, OPS.runCold, OPS.runRepeat], DRIVER_PEERS),
  ];
  if (ops.length > 0) put('benchmarks-docker-commands.svg', barChart('docker CLI commands against each driver', `${subtitle}; bar: median, whisker: p10-p90 (min-max under 10 samples)`, ops, 2));
  const memTests = [...new Set(f.results.figures.filter((x) => x.section === 'memory').map((x) => x.test))];
  const mem = panels(f, 'memory', memTests, ['ours', 'ours: sshfs + ssh children', 'rclone']);
  for (const p of mem) if (/ volumes$/.test(p.title)) p.threshold = { value: 80, label: 'target 80 MB' };
  if (mem.length > 0) put('benchmarks-memory.svg', barChart('Resident memory', subtitle, mem, Math.min(3, mem.length)));
  return written;
}

// ------------------------------------------------------------------ markdown

function dataTable(f: Figures, section: string): string {
  const peers = DATA_PEERS.filter((p) => DATA_TESTS.some((t) => f.get(section, t, p) !== undefined));
  const tests = DATA_TESTS.filter((t) => peers.some((p) => f.get(section, t, p) !== undefined));
  const unit = (t: string): string => f.results.figures.find((x) => x.section === section && x.test === t)?.unit ?? '';
  const lines = [
    `| peer | ${tests.map((t) => `${t} (${unit(t)})`).join(' | ')} |`,
    `|---|${tests.map(() => '---:').join('|')}|`,
    ...peers.map((p) => {
      const group = NETWORK_PEERS.includes(p) ? NETWORK_PEERS : LOCAL_PEERS;
      return `| ${peerInfo(p).label} | ${tests.map((t) => cell(f, section, t, p, group)).join(' | ')} |`;
    }),
  ];
  return lines.join('\n');
}

/** The plugin's own duration per call, from its log lines in the engine's log. */
function pluginCallTable(f: Figures, section: string): string {
  const calls = [...new Set(f.results.figures.filter((x) => x.section === section).map((x) => x.test))];
  if (calls.length === 0) return '';
  const peers = ['ours-local', 'ours-sftp'];
  const text = (call: string, peer: string): string => {
    const figure = f.get(section, call, peer);
    if (figure === undefined) return '—';
    return `${fmt(quantile(figure.samples, 0.5))} / ${fmt(quantile(figure.samples, 0.9))} / ${fmt(Math.max(...figure.samples))} (${figure.samples.length})`;
  };
  return [
    `| call | ${peers.map((p) => `${peerInfo(p).short}: p50 / p90 / max ms (calls)`).join(' | ')} |`,
    `|---|${peers.map(() => '---:').join('|')}|`,
    ...calls.map((c) => `| ${c} | ${peers.map((p) => text(c, p)).join(' | ')} |`),
  ].join('\n');
}

function driverTable(f: Figures, section: string, tests: readonly string[]): string {
  const peers = DRIVER_PEERS.filter((p) => tests.some((t) => f.get(section, t, p) !== undefined));
  const rows = tests.filter((t) => peers.some((p) => f.get(section, t, p) !== undefined));
  if (rows.length === 0) return '_not measured_';
  const n = (t: string): string => {
    const counts = [...new Set(peers.map((p) => f.get(section, t, p)?.samples.length).filter((x) => x !== undefined))];
    return counts.join('/');
  };
  return [
    `| ms (median · ×best · ±spread) | ${peers.map((p) => peerInfo(p).short).join(' | ')} | samples |`,
    `|---|${peers.map(() => '---:').join('|')}|---:|`,
    ...rows.map((t) => `| ${t} | ${peers.map((p) => cell(f, section, t, p, peers.filter((x) => x !== 'no volume'))).join(' | ')} | ${n(t)} |`),
  ].join('\n');
}

/** Volume counts of the control-path figures (the "floor" server is not one). */
function controlCounts(f: Figures): string[] {
  return [...new Set(f.results.figures.filter((x) => x.section === 'control-p99' && /^\d+$/.test(x.peer)).map((x) => x.peer))].sort((a, b) => Number(a) - Number(b));
}

function controlTable(f: Figures): string {
  const counts = controlCounts(f);
  if (counts.length === 0) return '_not measured_';
  const p99 = (call: string, c: string): string => {
    const s = stat(f.get('control-p99', call, c));
    return s === undefined ? '—' : `${fmt(s.median)}${s.n > 1 ? ` ±${(s.spread * 100).toFixed(0)}%` : ''}`;
  };
  const floorCell = (call: string, c: string): string => {
    const s99 = stat(f.get('control-floor-p99', call, c));
    return s99 === undefined ? '—' : `${fmt(f.median('control-floor-p50', call, c))} / ${fmt(s99.median)}${s99.n > 1 ? ` ±${(s99.spread * 100).toFixed(0)}%` : ''}`;
  };
  const lines = [
    `| call | ${counts.map((c) => `p50 / p99 ms at ${c}`).join(' | ')} |`,
    `|---|${counts.map(() => '---:').join('|')}|`,
    ...CALLS.map((call) => `| ${call} | ${counts.map((c) => `${fmt(f.median('control-p50', call, c))} / ${p99(call, c)}`).join(' | ')} |`),
    `| _floor: Capabilities on a bare node HTTP server_ | ${counts.map((c) => floorCell('Capabilities', c)).join(' | ')} |`,
    `| _floor: List of as many entries on a bare node HTTP server_ | ${counts.map((c) => floorCell('List', c)).join(' | ')} |`,
    `| daemon RSS (MB) | ${counts.map((c) => fmt(f.median('control-rss', 'RSS', c))).join(' | ')} |`,
    `| fill time (s, 100 Creates in flight) | ${counts.map((c) => fmt(f.median('control-fill', 'fill', c))).join(' | ')} |`,
  ];
  return lines.join('\n');
}

function referenceTable(f: Figures): string {
  const rows = f.results.figures.filter((x) => x.section === 'mount-reference');
  if (rows.length === 0) return '';
  return [
    '| reference | p50 ms | range | samples |',
    '|---|---:|---:|---:|',
    ...rows.map((r) => `| ${r.test} | ${fmt(quantile(r.samples, 0.5))} | ${fmt(Math.min(...r.samples))}–${fmt(Math.max(...r.samples))} | ${r.samples.length} |`),
  ].join('\n');
}

function memoryTable(f: Figures): string {
  const states = [...new Set(f.results.figures.filter((x) => x.section === 'memory').map((x) => x.test))];
  if (states.length === 0) return '_not measured_';
  const who = ['ours', 'ours: sshfs + ssh children', 'rclone'];
  return [
    `| MB (RSS) | ${who.map((w) => peerInfo(w).label).join(' | ')} |`,
    `|---|${who.map(() => '---:').join('|')}|`,
    ...states.map((s) => `| ${s} | ${who.map((w) => fmt(f.median('memory', s, w))).join(' | ').replace(/n\/a/g, '—')} |`),
  ].join('\n');
}

export function renderReport(results: Results, dir: string): void {
  const f = new Figures(results);
  const p = results.params;
  /** A count from the run's parameters, as text; `fallback` when the run did not record it. */
  const param = (key: string, fallback: string): string => {
    const value = p[key];
    return typeof value === 'number' || typeof value === 'string' ? String(value) : fallback;
  };
  const when = results.startedAt.slice(0, 16).replace('T', ' ');
  const subtitle = `${results.mode} run of ${when} UTC, ${results.machine.cpus ?? '?'} CPUs, loopback sshd`;
  const charts = writeCharts(f, dir, subtitle);
  const targets = evaluateTargets(f);
  const met = targets.filter((t) => t.met === true).length;
  const missed = targets.filter((t) => t.met === false).length;
  const sizes = p.data as Record<string, { rounds: number; seqMiB: number; files: number }> | undefined;
  const sizeLine = (rtt: string): string => {
    const s = sizes?.[rtt];
    return s === undefined ? '' : `${s.rounds} rounds; sequential: ${s.seqMiB} MiB with dd bs=1M; small files: ${s.files} files of 4 KiB in directories of 100.`;
  };
  const chart = (name: string): string => (charts.includes(name) ? `\n![${name}](${name})\n` : '');
  const md: string[] = [];
  md.push('# Benchmarks', '');
  md.push(
    `Generated by \`scripts/bench${results.mode === 'quick' ? ' --quick' : ''}\` (${results.mode} mode) on ${when} UTC` +
      `${results.finishedAt !== undefined ? `, ${Math.round((Date.parse(results.finishedAt) - Date.parse(results.startedAt)) / 60000)} minutes` : ''}. ` +
      `Every figure and chart on this page comes from that one run; the raw samples are in [benchmarks.json](benchmarks.json).`,
    '',
    `Machine: ${Object.entries(results.machine).map(([k, v]) => `${k} ${v}`).join('; ')}.`,
    '',
    'Run it again with `scripts/bench` (full, about an hour) or `scripts/bench --quick` (small sizes, few repeats); `scripts/bench --help` lists the options. ' +
      'It needs root, starts its own engine, sshd and plugins under /run/dvs-bench and stops them at the end.',
    '',
    '**Reading the tables.** Each cell is `median · ratio to the best peer in that column · ±spread`. The best peer is in bold and has 1.00×. ' +
      'For MB/s and files/s higher is better, so other peers show less than 1×; for ms and MB lower is better, so others show more than 1×. ' +
      'Spread is half the range of the runs (min–max with fewer than 10 samples, p10–p90 with 10 or more) as a percentage of the median. ' +
      'The machine is shared with other jobs, so single figures swing by 10–25 %; peers alternate within every round (the order rotates) so that ratios stay meaningful.',
    '',
  );
  md.push('## Targets', '', `${met} met, ${missed} missed${targets.some((t) => t.met === undefined) ? `, ${targets.filter((t) => t.met === undefined).length} not measured` : ''}.`, '');
  md.push('| target | measured | verdict |', '|---|---|---|');
  for (const t of targets) md.push(`| ${t.target} | ${t.measured} | ${t.met === undefined ? 'not measured' : t.met ? 'met' : '**missed**'} |`);
  md.push('');
  const analysis = path.join(dir, 'benchmarks-analysis.md');
  if (fs.existsSync(analysis)) md.push('Why each missed target is missed, and the fix: [benchmarks-analysis.md](benchmarks-analysis.md).', '');

  md.push('## Peers', '');
  for (const peer of DATA_PEERS) md.push(`- **${PEERS[peer].short}**: ${PEERS[peer].label}.`);
  md.push(
    '',
    'All SFTP peers talk to the same OpenSSH sshd on 127.0.0.1 (internal-sftp, ed25519 host and client keys) whose files live on the same disk as the engine\'s. ' +
      'Our plugin is installed by `scripts/install` from this checkout; rclone runs as a legacy plugin on the same engine; raw sshfs is mounted on the host and bind-mounted into the containers.',
    '',
  );

  for (const section of f.sections('data-')) {
    const rtt = section.slice(5);
    md.push(`## Data path, RTT ${rtt} ms${rtt === '0' ? ' (loopback)' : ' (latency proxy)'}`, '');
    md.push(
      rtt === '0'
        ? 'Each step is one `docker run --rm -v TARGET:/d dvs-busybox` that times its own work (container start-up is not included). Caches are dropped on the host before every read, stat and listing.'
        : `A proxy on loopback delays every chunk by ${Number(rtt) / 2} ms in each direction (order kept) between the SFTP client (sshfs, rclone, our plugin's sshfs) and sshd.`,
      '',
      sizeLine(rtt),
      chart(`benchmarks-data-rtt${rtt}.svg`),
      rtt === '0' ? chart('benchmarks-data-local.svg') : '',
      'Ratios compare each SFTP peer with the best SFTP peer, and each local peer with the best local peer.',
      '',
      dataTable(f, section),
      '',
    );
  }

  md.push('## Control path: VolumeDriver calls', '');
  md.push(
    'From `scripts/bench.d/control-path.ts`: the daemon (`node dist/main.js`) outside Docker with local volumes, driven on its socket the way the engine does; ' +
      `${param('controlSamples', '200')} sequential calls of each kind per volume count after filling the daemon with that many volumes, ` +
      `repeated ${param('controlRepetitions', '1')} times with a fresh daemon (cells: median over the repetitions of p50 / p99, ± half their range). ` +
      'The floor rows are the same client against a do-nothing node HTTP server on a Unix socket that answers Capabilities, and List with as many entries shaped like ours: what this machine and the size of the reply cost by themselves. ' +
      'Ours only: the figures are the daemon\'s own cost (protocol, service, locking, durable state write), which no peer exposes the same way.',
    chart('benchmarks-control-path.svg'),
    controlTable(f),
    '',
  );

  md.push('## Volume commands through the engine', '');
  md.push(
    `One driver at a time (a \`docker volume ls\` asks every driver): ${param('cliVolumes', '?')} volumes created (${param('cliSftpVolumes', '?')} for ours SFTP, whose Create connects to the server and makes the remote directory), ` +
      `listed and inspected ${param('cliRepeats', '?')} times, removed. Half of the creates and removes go through the docker CLI, half straight to the engine's API socket, alternating; ` +
      'the CLI figures include the CLI\'s own start-up (~40 ms here), the API figures do not. rclone volumes use `-o type=sftp` with the same server.',
    chart('benchmarks-docker-commands.svg'),
    '### docker CLI', '',
    driverTable(f, 'volume-cli', [OPS.create, OPS.ls, OPS.inspect, OPS.rm]),
    '', '### Engine API (no CLI start-up)', '',
    driverTable(f, 'volume-api', [OPS.create, OPS.ls, OPS.inspect, OPS.rm]),
    '',
    '### Inside the plugin', '',
    "The plugin's own time for each call the engine made during these commands (it logs one line per call with its duration; the engine keeps them in its log):",
    '',
    pluginCallTable(f, 'plugin-calls-volumes'),
    '',
  );
  md.push('## Mount latency: `docker run --rm -v VOL:/d dvs-busybox true`', '');
  md.push(
    `Wall time of the CLI command. First: ${param('mountFirst', '?')} fresh volumes per driver, each run once; repeated: ${param('mountRepeats', '?')} runs on one volume. ` +
      'Drivers alternate; "no volume" is the same run without a volume, the floor.',
    '',
    driverTable(f, 'mount', [OPS.runFirst, OPS.runCold, OPS.runRepeat]),
    '',
    "The plugin's own time for the calls of these runs, and for reference a raw sshfs mount on the host (same server, best options; the command returns once connected, then one `stat`) and its unmount:",
    '',
    pluginCallTable(f, 'plugin-calls-mount'),
    '',
    referenceTable(f),
    '',
  );
  md.push('## Memory', '');
  md.push(
    'RSS from /proc of the plugin\'s node process (found through `docker plugin inspect` and the containerd shim\'s process tree) and of its sshfs/ssh children; ' +
      'rclone is one process. Median of three readings after the state settled.',
    chart('benchmarks-memory.svg'),
    memoryTable(f),
    '',
  );
  md.push(
    '## Method notes',
    '',
    '- Caches that shape the metadata figures: raw sshfs keeps attributes and listings for 20 s by default; rclone keeps its VFS directory cache for 5 min (`--dir-cache-time`); ' +
      'our plugin keeps them at most `cache_timeout` = 1 s so that another host sees changes within a second. Dropping the kernel caches does not empty these user-space caches.',
    '- The extraction is timed until `tar` exits, without a `sync`; the sequential write includes `conv=fsync`.',
    '- Higher round-trip times use smaller sizes (see each section): every small-file operation costs several round trips, so 5,000 files at 50 ms would take about half an hour per peer.',
    '- The control-path p99s are sensitive to the machine: compare them with the floor rows measured in the same run.',
    ...results.notes.map((n) => `- ${n}`),
    '',
  );
  if (results.errors.length > 0) md.push('## Errors during the run', '', ...results.errors.map((e) => `- ${e}`), '');
  fs.writeFileSync(path.join(dir, 'benchmarks.md'), `${md.join('\n').replace(/\n{3,}/g, '\n\n')}\n`);
}

if (require.main === module) {
  const dir = path.resolve(process.argv[2] ?? path.join(__dirname, '..', '..', 'docs'));
  const results = JSON.parse(fs.readFileSync(path.join(dir, 'benchmarks.json'), 'utf8')) as Results;
  renderReport(results, dir);
  console.log(`wrote ${path.join(dir, 'benchmarks.md')}`);
}
