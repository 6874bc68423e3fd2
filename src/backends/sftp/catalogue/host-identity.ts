import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../../system/atomic-write';
import type { HostIdentity } from '../../backend';

/**
 * The ID is made once and kept under PLUGIN_DATA_DIR, so it survives restarts and upgrades.
 * `hostName` is HOST_NAME, or the hostname when that is empty.
 */
export async function loadHostIdentity(dataDir: string, hostName: string): Promise<HostIdentity> {
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
