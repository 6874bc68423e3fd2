import fs from 'fs-extra';
import path from 'node:path';
import { writeFileAtomic } from '../../system/atomic-write';
import { pathUnder } from '../../system/paths';
import { knownHostsLine, type HostKey } from './control/host-keys';

/**
 * What the SFTP backend keeps on this host, under PLUGIN_DATA_DIR:
 *   keys/                 the administrator's keys, password files and known_hosts
 *   sftp/<volume>/known_hosts   the server's key as seen at the volume's Create
 * The pinned key is read once per volume and kept in memory: it never changes after Create.
 */
export class VolumeFiles {
  readonly keysDir: string;
  private readonly volumesDir: string;
  private readonly pinned = new Map<string, string>();

  constructor(dataDir: string) {
    this.keysDir = path.join(dataDir, 'keys');
    this.volumesDir = path.join(dataDir, 'sftp');
  }

  async prepare(): Promise<void> {
    await fs.mkdirp(this.keysDir, { mode: 0o700 });
  }

  /** The known_hosts line pinned at the volume's Create, if its file is there. */
  async readPinned(name: string): Promise<string | undefined> {
    const known = this.pinned.get(name);
    if (known !== undefined) return known;
    try {
      const line = await fs.readFile(this.pinnedFile(name), 'utf8');
      this.pinned.set(name, line);
      return line;
    } catch {
      return undefined;
    }
  }

  /** Pins the key the server offered for the volume; returns the known_hosts text written. */
  async pin(name: string, host: string, port: number, key: HostKey): Promise<string> {
    const line = `${knownHostsLine(host, port, key)}\n`;
    await fs.mkdirp(this.volumeDir(name), { mode: 0o700 });
    await writeFileAtomic(this.pinnedFile(name), line);
    this.pinned.set(name, line);
    return line;
  }

  /** The volume's files go; nothing of the server's. */
  async remove(name: string): Promise<void> {
    this.pinned.delete(name);
    await fs.rm(this.volumeDir(name), { recursive: true, force: true });
  }

  private volumeDir = (name: string): string => pathUnder(this.volumesDir, name);
  private pinnedFile = (name: string): string => path.join(this.volumeDir(name), 'known_hosts');
}
