import path from 'node:path';
import type SftpClient from 'ssh2-sftp-client';
import { describe, PluginError } from '../../../errors';
import type { CatalogueEntry, HostIdentity } from '../../backend';
import type { ControlConnections, ControlTarget } from '../control-connection';
import { parseEntry, parseHost, type Lease } from './catalogue-records';

export interface ListedEntry {
  entry: CatalogueEntry;
  /** mtime and size as listed, so unchanged records are not read again. */
  stamp: string;
}

const isMissing = (error: unknown): boolean => /no such file|ENOENT|No such/i.test(String((error as Error)?.message ?? error)) || (error as { code?: unknown })?.code === 2;

/**
 * The catalogue as files on the store, beside the volumes' data:
 *   .docker-volume-sftp/volumes/<name>.json        one record per volume
 *   .docker-volume-sftp/leases/<name>/<host>.json  one lease per host that has it mounted
 * A record is published by writing a temp file and renaming it into place; SFTP rename
 * does not replace an existing file, so of two hosts creating one name, exactly one wins.
 */
export class CatalogueRemote {
  private readonly volumesDir: string;
  private readonly leasesDir: string;
  private readonly clockFile: string;

  constructor(
    private readonly control: ControlConnections,
    private readonly target: () => Promise<ControlTarget>,
    baseDir: string,
    private readonly host: HostIdentity,
  ) {
    const root = path.posix.join(baseDir, '.docker-volume-sftp');
    this.volumesDir = path.posix.join(root, 'volumes');
    this.leasesDir = path.posix.join(root, 'leases');
    this.clockFile = path.posix.join(root, 'clock', `${host.id}`);
  }

  /** Runs `work` on the pooled control connection; a failure says what could not be done. */
  private async with<T>(what: string, work: (client: SftpClient) => Promise<T>): Promise<T> {
    const target = await this.target();
    try {
      return await this.control.with(target, ({ client }) => work(client));
    } catch (error) {
      if (error instanceof PluginError) throw error;
      throw new PluginError(
        'STORE_FAILED',
        `the volume store ${target.user}@${target.host}:${target.port} could not ${what}: ${describe(error)}; check the store's free space and permissions, then try again`,
        { cause: error },
      );
    }
  }

  /** Every record on the store; records whose listing stamp did not change are reused. */
  list(previous: ReadonlyMap<string, ListedEntry>): Promise<Map<string, ListedEntry>> {
    return this.with('list the volume records', async (client) => {
      let files: SftpClient.FileInfo[];
      try {
        files = await client.list(this.volumesDir);
      } catch (error) {
        if (isMissing(error)) return new Map<string, ListedEntry>();
        throw error;
      }
      const result = new Map<string, ListedEntry>();
      for (const file of files) {
        const match = /^(.+)\.json$/.exec(file.name);
        if (file.type !== '-' || match?.[1] === undefined) continue;
        const name = match[1];
        const stamp = `${file.modifyTime}:${file.size}`;
        const known = previous.get(name);
        if (known?.stamp === stamp) {
          result.set(name, known);
          continue;
        }
        const entry = parseEntry(((await client.get(path.posix.join(this.volumesDir, file.name))) as Buffer).toString('utf8'), name);
        if (entry !== undefined) result.set(name, { entry, stamp });
      }
      return result;
    });
  }

  /** Publishes `entry` unless the name is taken; returns the record that holds the name. */
  publish(entry: CatalogueEntry): Promise<CatalogueEntry> {
    return this.with(`publish the record of volume ${entry.name}`, async (client) => {
      await client.mkdir(this.volumesDir, true);
      const final = path.posix.join(this.volumesDir, `${entry.name}.json`);
      const temp = `${final}.${this.host.id}.tmp`;
      await client.put(Buffer.from(`${JSON.stringify(entry)}\n`), temp);
      try {
        await client.rename(temp, final);
        return entry;
      } catch (error) {
        // `true`: a temp file that is not there is no failure.
        await client.delete(temp, true);
        let existing: CatalogueEntry | undefined;
        try {
          existing = parseEntry(((await client.get(final)) as Buffer).toString('utf8'), entry.name);
        } catch {
          throw error;
        }
        if (existing === undefined) {
          throw new PluginError('STORE_FAILED', `the store holds an unreadable record for volume ${entry.name} at ${final}; move it aside on the server, or use another name`);
        }
        return existing;
      }
    });
  }

  withdraw(name: string): Promise<void> {
    return this.with(`withdraw the record of volume ${name}`, async (client) => {
      await client.delete(path.posix.join(this.volumesDir, `${name}.json`), true);
      await client.delete(this.leaseFile(name), true);
    });
  }

  /** Writes or renews this host's lease: the server stamps the file's mtime. */
  renewLease(name: string): Promise<void> {
    return this.with(`renew this host's lease on volume ${name}`, async (client) => {
      const dir = path.posix.join(this.leasesDir, name);
      if ((await client.exists(dir)) === false) await client.mkdir(dir, true);
      // Written aside and renamed over: a reader never sees a half-written lease.
      const temp = `${this.leaseFile(name)}.tmp`;
      await client.put(Buffer.from(`${JSON.stringify(this.host)}\n`), temp);
      await client.posixRename(temp, this.leaseFile(name));
    });
  }

  dropLease(name: string): Promise<void> {
    return this.with(`drop this host's lease on volume ${name}`, async (client) => {
      await client.delete(this.leaseFile(name), true);
    });
  }

  /** Leases on `name` held by other hosts, with their age by the server's own clock. */
  otherLeases(name: string): Promise<Lease[]> {
    return this.with(`read the leases on volume ${name}`, async (client) => {
      let files: SftpClient.FileInfo[];
      try {
        files = await client.list(path.posix.join(this.leasesDir, name));
      } catch (error) {
        if (isMissing(error)) return [];
        throw error;
      }
      const others = files.filter((file) => file.type === '-' && file.name.endsWith('.json') && file.name !== `${this.host.id}.json`);
      if (others.length === 0) return [];
      const now = await this.serverNow(client);
      const leases: Lease[] = [];
      for (const file of others) {
        let host: HostIdentity | undefined;
        try {
          host = parseHost(((await client.get(path.posix.join(this.leasesDir, name, file.name))) as Buffer).toString('utf8'));
        } catch {
          continue; // released while we looked
        }
        leases.push({ host: host ?? { id: file.name.replace(/\.json$/, ''), name: 'unknown host' }, ageSeconds: Math.max(0, (now - file.modifyTime) / 1000) });
      }
      return leases;
    });
  }

  /** The server's clock, read from the mtime of a file we just wrote: hosts' clocks may differ. */
  private async serverNow(client: SftpClient): Promise<number> {
    await client.mkdir(path.posix.dirname(this.clockFile), true);
    await client.put(Buffer.from('tick\n'), this.clockFile);
    return (await client.stat(this.clockFile)).modifyTime;
  }

  private leaseFile(name: string): string {
    return path.posix.join(this.leasesDir, name, `${this.host.id}.json`);
  }
}
