import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../state/atomic-write';

/** Who this host is to the others sharing a store: a stable ID and a name for messages. */
export interface HostIdentity {
  id: string;
  name: string;
}

/** The ID is made once and kept under PLUGIN_DATA_DIR, so it survives restarts and upgrades. */
// The managed plugin passes HOST_NAME= (empty) when it is not set: that means the hostname.
export async function loadHostIdentity(dataDir: string, hostName = process.env.HOST_NAME || os.hostname()): Promise<HostIdentity> {
  const file = path.join(dataDir, 'host-id');
  let id: string;
  try {
    id = (await fs.readFile(file, 'utf8')).trim();
    if (!/^[a-f0-9-]{36}$/.test(id)) throw new Error('malformed');
  } catch {
    id = randomUUID();
    await writeFileAtomic(file, `${id}\n`, 0o644);
  }
  return { id, name: hostName.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64) || 'unnamed' };
}
