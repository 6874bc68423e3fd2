/** The data section: throughput and small files through containers, per round-trip time. */
import { CLIENT_COMMANDS, CPU_TESTS, SERVER_COMMANDS, TESTS, type DataSizes } from '../data-path';
import { PEERS, type PeerId } from '../env';
import type { SuiteRun } from '../lib/results';
import { fmt } from '../lib/stats';
import { barChart, type Bar, type Panel } from '../lib/svg';
import { bar, cell, Figures, ratio, table, value } from './figures';
import type { Section } from './section';
import { targetTable, verdict, type TargetRow } from './targets';

const NETWORK_PEERS: PeerId[] = ['ours-sftp', 'rclone', 'sshfs-defaults', 'sshfs-best', 'sshfs-best-ra'];
const LOCAL_PEERS: PeerId[] = ['ours-local', 'local-driver'];
const RAW_PEERS: PeerId[] = ['sshfs-defaults', 'sshfs-best', 'sshfs-best-ra'];
const DATA_TESTS = Object.values(TESTS);

function targets(f: Figures): TargetRow[] {
  const rows: TargetRow[] = [];
  for (const test of [TESTS.seqWrite, TESTS.seqRead]) {
    const ours = f.median('rtt-0', test, 'ours-sftp');
    const bestRaw = f.best('rtt-0', test, RAW_PEERS);
    const defaults = f.median('rtt-0', test, 'sshfs-defaults');
    const which = RAW_PEERS.find((p) => f.median('rtt-0', test, p) === bestRaw);
    rows.push({
      target: `SFTP ${test} ≥ 0.9× best raw sshfs (loopback)`,
      measured: `${fmt(ours)} vs ${fmt(bestRaw)} MB/s (${which === undefined ? '?' : PEERS[which].short}) = ${ratio(ours / bestRaw)}`,
      met: verdict(ours >= 0.9 * bestRaw, ours / bestRaw),
    });
    rows.push({
      target: `SFTP ${test} ≥ 1.5× sshfs defaults (loopback)`,
      measured: `${fmt(ours)} vs ${fmt(defaults)} MB/s = ${ratio(ours / defaults)}`,
      met: verdict(ours >= 1.5 * defaults, ours / defaults),
    });
  }
  for (const rtt of f.rtts()) {
    const section = `rtt-${rtt}`;
    const compared = DATA_TESTS.filter((t) => Number.isFinite(f.median(section, t, 'ours-sftp') / f.median(section, t, 'rclone')));
    const lost = compared.filter((t) => f.median(section, t, 'ours-sftp') < f.median(section, t, 'rclone'));
    rows.push({
      target: `SFTP ≥ rclone on every data test, RTT ${rtt} ms`,
      measured:
        compared.length === 0
          ? 'not measured'
          : lost.length === 0
            ? `${compared.length}/${compared.length} tests at or above rclone`
            : `below rclone: ${lost.map((t) => `${t} ${ratio(f.median(section, t, 'ours-sftp') / f.median(section, t, 'rclone'))}`).join('; ')}`,
      met: compared.length === 0 ? undefined : lost.length === 0,
    });
  }
  return rows;
}

function peerTable(f: Figures, section: string): string[] {
  const peers = [...NETWORK_PEERS, ...LOCAL_PEERS].filter((p) => f.has(section, p));
  const tests = DATA_TESTS.filter((t) => peers.some((p) => f.get(section, t, p) !== undefined));
  return table(
    ['peer', ...tests.map((t) => `${t} (${f.unit(section, t)})`)],
    peers.map((p) => [PEERS[p].label, ...tests.map((t) => cell(f, section, t, p, NETWORK_PEERS.includes(p) ? NETWORK_PEERS : LOCAL_PEERS))]),
  );
}

/** Ours next to each other SFTP peer: ours ÷ peer for MB/s and files/s (above 1: ours is faster). */
function oursRatios(f: Figures, section: string): string[] {
  const others = NETWORK_PEERS.filter((p) => p !== 'ours-sftp' && f.has(section, p));
  const tests = DATA_TESTS.filter((t) => f.get(section, t, 'ours-sftp') !== undefined);
  if (others.length === 0 || tests.length === 0) return [];
  return [
    'Ours SFTP ÷ each other SFTP peer (above 1: ours is faster):',
    '',
    ...table(['ours SFTP ÷', ...tests], others.map((p) => [PEERS[p].short, ...tests.map((t) => ratio(f.median(section, t, 'ours-sftp') / f.median(section, t, p)))])),
    '',
  ];
}

/**
 * Where a byte's CPU goes on each side of the sequential steps. On loopback the server shares
 * this machine's cores, so a client can be faster only by the CPU it saves: the server's part
 * bounds what any client reaches here.
 */
function cpuTable(f: Figures, section: string): string[] {
  const peers = NETWORK_PEERS.filter((p) => f.get(section, CPU_TESTS.writeClient, p) !== undefined);
  if (peers.length === 0) return [];
  const share = (p: PeerId, client: string, server: string): string => {
    const c = f.median(section, client, p);
    const s = f.median(section, server, p);
    return Number.isFinite(c + s) && c + s > 0 ? `${((s / (c + s)) * 100).toFixed(0)} %` : '—';
  };
  return [
    `CPU seconds per GB of the sequential steps, read from /proc around each step: client ${CLIENT_COMMANDS.join(', ')}; server ${SERVER_COMMANDS.join(', ')} (the same machine here; the kernel's own work and the container's \`dd\` are in neither). The server's share is what no client choice removes on loopback.`,
    '',
    ...table(
      ['peer', 'write MB/s', 'client, write', 'server, write', 'server share, write', 'read MB/s', 'client, read', 'server, read'],
      peers.map((p) => [
        PEERS[p].short,
        value(f, section, TESTS.seqWrite, p),
        value(f, section, CPU_TESTS.writeClient, p),
        value(f, section, CPU_TESTS.writeServer, p),
        share(p, CPU_TESTS.writeClient, CPU_TESTS.writeServer),
        value(f, section, TESTS.seqRead, p),
        value(f, section, CPU_TESTS.readClient, p),
        value(f, section, CPU_TESTS.readServer, p),
      ]),
    ),
    '',
  ];
}

function chart(f: Figures): string {
  const panels: Panel[] = [];
  for (const rtt of f.rtts()) {
    for (const test of DATA_TESTS) {
      const peers = rtt === 0 ? [...NETWORK_PEERS, ...LOCAL_PEERS] : NETWORK_PEERS;
      const bars = peers.map((p) => bar(f, `rtt-${rtt}`, test, p, PEERS[p].short, PEERS[p].color)).filter((b): b is Bar => b !== undefined);
      if (bars.length > 0) panels.push({ title: `${test}, RTT ${rtt} ms`, unit: `${f.unit(`rtt-${rtt}`, test)}, higher is better`, bars });
    }
  }
  return barChart('Data path through containers', 'bar: median, whisker: range of the rounds', panels, 2);
}

const sizesOf = (run: SuiteRun): Record<string, DataSizes> => (run.params.data ?? {}) as Record<string, DataSizes>;

export const dataSection: Section = {
  what:
    'Throughput and small-file speed through containers: sequential write (dd with fsync) and read (caches dropped), ' +
    'then extracting small files from a tar, reading them back, a stat of each and a listing. Each step is one ' +
    '`docker run --rm -v TARGET:/d dvs-busybox` that times its own work (container start is not in the figure); the host drops its caches before every read, stat and listing.',
  how: (run) =>
    `${Object.entries(sizesOf(run))
      .map(([rtt, s]) => `RTT ${rtt} ms${rtt === '0' ? ' (loopback)' : ' (a latency proxy on loopback delays every chunk by half of it each way)'}: ${s.rounds} round(s), ${s.seqMiB} MiB sequential, ${s.files} files of 4 KiB in directories of 100`)
      .join('; ')}. Peers alternate within a round and the order rotates from round to round; one private engine and one OpenSSH sshd on 127.0.0.1 serve them all.`,
  peers: () => [...NETWORK_PEERS, ...LOCAL_PEERS].map((p) => `**${PEERS[p].short}**: ${PEERS[p].label}`),
  body(run, writeChart) {
    const f = new Figures(run);
    const out = [writeChart('benchmarks-data.svg', chart(f)), '', ...targetTable(targets(f)), ''];
    out.push('Cells: `median · ratio to the best peer of its kind (SFTP peers among themselves, local among local) · ±spread`.', '');
    for (const rtt of f.rtts()) {
      out.push(`### data: RTT ${rtt} ms`, '', ...peerTable(f, `rtt-${rtt}`), '', ...oursRatios(f, `rtt-${rtt}`));
      if (rtt === 0) out.push(...cpuTable(f, 'rtt-0'));
    }
    return out;
  },
};
