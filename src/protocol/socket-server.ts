import fs from 'fs-extra';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { RequestListener } from 'node:http';
import { PluginError } from '../errors';

const SOCKET_MODE = 0o660;

/**
 * Listens on a Unix socket with mode 0660. A stale socket left by a dead process is
 * removed; a socket some live process still answers on is not, and start fails.
 */
export async function listenOnSocket(socketPath: string, listener: RequestListener): Promise<http.Server> {
  await fs.mkdirp(path.dirname(socketPath));
  await clearStaleSocket(socketPath);
  const server = http.createServer(listener);
  server.keepAliveTimeout = 60_000;
  // The umask applies while the socket file is created, so it is never wider than 0660.
  const previousUmask = process.umask(0o117);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(previousUmask);
  }
  await fs.chmod(socketPath, SOCKET_MODE);
  return server;
}

async function clearStaleSocket(socketPath: string): Promise<void> {
  let stat: fs.Stats;
  try {
    stat = await fs.lstat(socketPath);
  } catch {
    return;
  }
  if (!stat.isSocket()) {
    throw new PluginError('CONFIG', `PLUGIN_SOCKET ${socketPath} exists and is not a socket; it was left as it is`);
  }
  if (await answers(socketPath)) {
    throw new PluginError('CONFIG', `another process is already listening on ${socketPath}; stop it first`);
  }
  await fs.rm(socketPath, { force: true });
}

function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Stops accepting, lets calls in flight finish, then drops idle keep-alive connections. */
export async function closeServer(server: http.Server, graceMs = 10_000): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  const idleSweep = setInterval(() => server.closeIdleConnections(), 50);
  try {
    await closed;
  } finally {
    clearTimeout(timer);
    clearInterval(idleSweep);
  }
}
