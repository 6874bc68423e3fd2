/**
 * Stale legacy plugin sockets make every Docker engine on the host slow: for `docker volume
 * ls`, `docker run -v NAME` of an unknown name and the like, an engine dials each socket in
 * /run/docker/plugins that its plugin lookup finds, and a socket nobody listens on costs
 * about 15 s of client retries (moby's plugin client backs off 1+2+4+8 s) on every such call.
 * A killed `rclone serve docker` (or any plugin that died uncleanly) leaves one behind.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** moby: the legacy plugin discovery directory, fixed on Linux. */
export const LEGACY_SOCKETS_DIR = '/run/docker/plugins';

export type SocketState = 'live' | 'stale' | 'silent';

/** The socket files an engine's legacy lookup dials: DIR/NAME.sock and DIR/NAME/NAME.sock. */
export function legacySocketPaths(dir = LEGACY_SOCKETS_DIR): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const candidates = entries.flatMap((entry) => {
    if (entry.name.endsWith('.sock')) return [path.join(dir, entry.name)];
    if (entry.isDirectory()) return [path.join(dir, entry.name, `${entry.name}.sock`)];
    return [];
  });
  return candidates.filter((file) => {
    try {
      return fs.lstatSync(file).isSocket();
    } catch {
      return false;
    }
  });
}

/** live: accepts connections; stale: refused (nothing listens); silent: no answer in time. */
export function probeSocket(file: string, timeoutMs = 1000): Promise<SocketState> {
  return new Promise((resolve) => {
    const socket = net.connect(file);
    const done = (state: SocketState): void => {
      socket.destroy();
      resolve(state);
    };
    socket.setTimeout(timeoutMs, () => done('silent'));
    socket.once('connect', () => done('live'));
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code === 'ECONNREFUSED' ? 'stale' : 'silent'));
  });
}

/**
 * Removes the legacy sockets nobody listens on (they can never answer again) and reports
 * each one, plus any that accept no connection in time, which are left alone but named.
 */
export async function removeStaleLegacySockets(report: (line: string) => void, dir = LEGACY_SOCKETS_DIR): Promise<string[]> {
  const removed: string[] = [];
  for (const file of legacySocketPaths(dir)) {
    const state = await probeSocket(file);
    if (state === 'stale') {
      fs.rmSync(file, { force: true });
      removed.push(file);
      report(`removed stale plugin socket ${file} (nothing listens on it; every engine on this host would retry it for about 15 s per volume lookup)`);
    } else if (state === 'silent') {
      report(`warning: plugin socket ${file} does not answer; engines on this host will be slow to list and look up volumes`);
    }
  }
  return removed;
}
