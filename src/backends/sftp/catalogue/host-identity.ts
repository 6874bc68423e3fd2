import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../../system/atomic-write';
import type { HostIdentity } from '../../backend';

/** Who this host is on the store, and which process of it this is. */
export interface HostInstance {
  host: HostIdentity;
  /** New at every start: a heartbeat with our ID but another instance is another host with our ID. */
  instance: string;
  /** The instance of this data directory's previous process: its heartbeat is our own. */
  previousInstance: string | undefined;
}

/**
 * The ID is made once and kept under PLUGIN_DATA_DIR, so it survives restarts and upgrades.
 * `hostName` is HOST_NAME, or the hostname when that is empty.
 */
export async function loadHostIdentity(dataDir: string, hostName: string): Promise<HostInstance> {
  const file = path.join(dataDir, 'host-id');
  let id: string;
  try {
    id = (await fs.readFile(file, 'utf8')).trim();
    if (!isHostId(id)) throw new Error('malformed');
  } catch {
    id = randomUUID();
    await writeFileAtomic(file, `${id}\n`, 0o644);
  }
  const instanceFile = path.join(dataDir, 'host-instance');
  const previousInstance = await fs.readFile(instanceFile, 'utf8').then(
    (text) => text.trim() || undefined,
    () => undefined,
  );
  const instance = randomUUID();
  await writeFileAtomic(instanceFile, `${instance}\n`, 0o644);
  return { host: { id, name: printableHostName(hostName) }, instance, previousInstance };
}

const HOST_ID = /^[a-f0-9-]{36}$/;
const HOST_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** A host ID as loadHostIdentity makes it. */
export const isHostId = (value: string): boolean => HOST_ID.test(value);

/** A host name as loadHostIdentity makes it. */
export const isHostName = (value: string): boolean => HOST_NAME.test(value);

/**
 * A host name fit for messages and logs: names come from other hosts' files on the store,
 * so anything but letters, digits and _ . - (control characters, terminal escapes) is replaced.
 */
export function printableHostName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64) || 'unnamed';
}
