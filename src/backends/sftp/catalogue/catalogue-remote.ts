import path from 'node:path';
import type SftpClient from 'ssh2-sftp-client';
import { describe, PluginError } from '../../../errors';
import type { Logger } from '../../../log';
import type { CatalogueEntry, HostIdentity } from '../../backend';
import type { Connected, ControlConnections, ControlTarget } from '../control/control-connections';
import { parseHost, parseTombstone, type Lease, type Tombstone } from './catalogue-records';
import { forSftpClient } from '../remote-path';
import { printableHostName } from './host-identity';
import type { RecordGate } from './record-checks';

export interface ListedEntry {
  entry: CatalogueEntry;
  /** mtime and size as listed, so unchanged records are not read again. */
  stamp: string;
}

const isMissing = (error: unknown): boolean => /no such file|ENOENT|No such/i.test(String((error as Error)?.message ?? error)) || (error as { code?: unknown })?.code === 2;

/** What the store holds for a name: its record, or the tombstone of who removed it, or neither. */
export interface RecordOrTombstone {
  entry?: CatalogueEntry | undefined;
  removed?: Tombstone | undefined;
}

/**
 * The catalogue as files on the store, beside the volumes' data (docs/catalogue-protocol.md):
 *   .docker-volume-sftp/volumes/<name>.json          one record per volume
 *   .docker-volume-sftp/leases/<name>/<host>.json    one lease per host that has it mounted
 *   .docker-volume-sftp/removing/<name>.<host>.json  a record taken off by a Remove in progress
 *   .docker-volume-sftp/removed/<name>.json          who removed a volume, and when
 *   .docker-volume-sftp/changes                      moved by every publish and withdrawal
 * A record is published by writing a temp file and renaming it into place; SFTP rename
 * does not replace an existing file, so of two hosts creating one name, exactly one wins.
 */
export class CatalogueRemote {
  private readonly root: string;
  private readonly volumesDir: string;
  private readonly leasesDir: string;
  private readonly removingDir: string;
  private readonly removedDir: string;
  private readonly clockFile: string;
  private readonly markerFile: string;

  constructor(
    private readonly control: ControlConnections,
    private readonly target: () => Promise<ControlTarget>,
    baseDir: string,
    private readonly host: HostIdentity,
    private readonly log: Logger,
    /** Every record read from the store passes it: records are input from whoever can write there. */
    private readonly gate: RecordGate,
  ) {
    this.root = path.posix.join(baseDir, '.docker-volume-sftp');
    this.volumesDir = path.posix.join(this.root, 'volumes');
    this.leasesDir = path.posix.join(this.root, 'leases');
    this.removingDir = path.posix.join(this.root, 'removing');
    this.removedDir = path.posix.join(this.root, 'removed');
    this.clockFile = path.posix.join(this.root, 'clock', `${host.id}`);
    this.markerFile = path.posix.join(this.root, 'changes');
  }

  /** Runs `work` on the pooled control connection; a failure says what could not be done. */
  private async with<T>(what: string, work: (client: SftpClient, connected: Connected) => Promise<T>): Promise<T> {
    const target = await this.target();
    this.log.debug('store operation', { what });
    try {
      return await this.control.with(target, (connected) => work(connected.client, connected));
    } catch (error) {
      if (error instanceof PluginError) throw error;
      throw new PluginError(
        'STORE_FAILED',
        `the volume store ${target.user}@${target.host}:${target.port} could not ${what}: ${describe(error)}; check the store's free space and permissions, then try again`,
        { cause: error },
      );
    }
  }

  /** The change marker's stamp: it differs after every publish and withdrawal on any host. */
  changeStamp(): Promise<string> {
    return this.with('read the change marker', async (client) => {
      try {
        const stat = await client.stat(this.markerFile);
        return `${stat.modifyTime}:${stat.accessTime}`;
      } catch (error) {
        if (isMissing(error)) return 'none';
        throw error;
      }
    });
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
        const stamp = `${file.modifyTime}:${file.size}`;
        const where = path.posix.join(this.volumesDir, file.name);
        const name = this.gate.nameOf(where, file.name, stamp);
        if (name === undefined || this.gate.refusedBefore(where, stamp)) continue;
        const known = previous.get(name);
        if (known?.stamp === stamp) {
          result.set(name, known);
          continue;
        }
        const entry = await readJson(client, where, (text) => this.gate.admit(where, name, text, stamp));
        if (entry !== undefined) result.set(name, { entry, stamp });
      }
      return result;
    });
  }

  /** One name, read from the store now: its record, else its tombstone. */
  readName(name: string): Promise<RecordOrTombstone> {
    return this.with(`look up volume ${name}`, async (client) => {
      const entry = await readJson(client, this.recordFile(name), (text) => this.gate.admit(this.recordFile(name), name, text));
      if (entry !== undefined) return { entry };
      return { removed: await readJson(client, this.tombstoneFile(name), (text) => parseTombstone(text, name)) };
    });
  }

  /** Publishes `entry` unless the name is taken; returns the record that holds the name. */
  publish(entry: CatalogueEntry): Promise<CatalogueEntry> {
    return this.with(`publish the record of volume ${entry.name}`, async (client, connected) => {
      await ensureDir(client, this.volumesDir);
      const final = this.recordFile(entry.name);
      const temp = `${final}.${this.host.id}.tmp`;
      await client.put(Buffer.from(`${JSON.stringify(entry)}\n`), temp);
      try {
        await client.rename(temp, final);
      } catch (error) {
        // `true`: a temp file that is not there is no failure.
        await client.delete(temp, true);
        let existing: CatalogueEntry | undefined;
        try {
          existing = this.gate.admit(final, entry.name, ((await client.get(final)) as Buffer).toString('utf8'));
        } catch {
          throw error;
        }
        if (existing === undefined) {
          throw new PluginError('STORE_FAILED', `the store holds a record for volume ${entry.name} at ${final} that this host refuses (the plugin's log says why); move it aside on the server, or use another name`);
        }
        return existing;
      }
      await this.moveMarker(client, connected);
      return entry;
    });
  }

  /**
   * First step of a Remove: takes the record off the store (renamed aside, so it can be put
   * back), then reads the other hosts' leases. `false`: there was no record to take.
   */
  takeOff(name: string): Promise<{ taken: boolean; leases: Lease[] }> {
    return this.with(`withdraw the record of volume ${name}`, async (client, connected) => {
      await ensureDir(client, this.removingDir);
      let taken = true;
      try {
        // posix-rename replaces a leftover of an earlier Remove of ours that did not finish.
        await client.posixRename(this.recordFile(name), this.takenFile(name));
        await this.moveMarker(client, connected);
      } catch (error) {
        if (!isMissing(error)) throw error;
        taken = (await client.exists(this.takenFile(name))) === '-';
      }
      return { taken, leases: await this.leasesOf(client, name) };
    });
  }

  /** Undoes `takeOff`: the record goes back, unless a new volume of that name took its place. */
  putBack(name: string): Promise<void> {
    return this.with(`put back the record of volume ${name}`, async (client, connected) => {
      try {
        await client.rename(this.takenFile(name), this.recordFile(name));
      } catch {
        await client.delete(this.takenFile(name), true);
      }
      await this.moveMarker(client, connected);
    });
  }

  /** Last step of a Remove: the tombstone says who removed it; the taken record and our lease go. */
  finishRemove(name: string): Promise<void> {
    return this.with(`finish removing volume ${name}`, async (client) => {
      await ensureDir(client, this.removedDir);
      const tombstone: Tombstone = { name, removedBy: this.host, removedAt: new Date().toISOString() };
      const temp = `${this.tombstoneFile(name)}.${this.host.id}.tmp`;
      await client.put(Buffer.from(`${JSON.stringify(tombstone)}\n`), temp);
      await client.posixRename(temp, this.tombstoneFile(name));
      await client.delete(this.takenFile(name), true);
      await client.delete(this.leaseFile(name), true);
    });
  }

  /**
   * Writes or renews this host's lease (the server stamps its mtime), then says whether the
   * volume is still on the store: its record, or no sign that a Remove took it off.
   */
  renewLease(name: string): Promise<RecordOrTombstone & { present: boolean }> {
    return this.with(`renew this host's lease on volume ${name}`, async (client) => {
      await ensureDir(client, path.posix.join(this.leasesDir, name));
      // Written aside and renamed over: a reader never sees a half-written lease.
      const temp = `${this.leaseFile(name)}.tmp`;
      await client.put(Buffer.from(`${JSON.stringify(this.host)}\n`), temp);
      await client.posixRename(temp, this.leaseFile(name));
      if ((await client.exists(this.recordFile(name))) === '-') return { present: true };
      // In this order: a Remove writes its tombstone before it deletes its removing/ file,
      // so a Remove that finishes between the two reads is still seen by the second.
      const taking = (await listOrEmpty(client, this.removingDir)).some((file) => file.name.startsWith(`${name}.`));
      const removed = await readJson(client, this.tombstoneFile(name), (text) => parseTombstone(text, name));
      return { present: removed === undefined && !taking, removed };
    });
  }

  dropLease(name: string): Promise<void> {
    return this.with(`drop this host's lease on volume ${name}`, async (client) => {
      await client.delete(this.leaseFile(name), true);
    });
  }

  /** Leases on `name` held by other hosts, with their age by the server's own clock. */
  private async leasesOf(client: SftpClient, name: string): Promise<Lease[]> {
    const files = await listOrEmpty(client, path.posix.join(this.leasesDir, name));
    const others = files.filter((file) => file.type === '-' && file.name.endsWith('.json') && file.name !== `${this.host.id}.json`);
    if (others.length === 0) return [];
    const now = await this.serverNow(client);
    const leases: Lease[] = [];
    for (const file of others) {
      const host = await readJson(client, path.posix.join(this.leasesDir, name, file.name), parseHost);
      leases.push({ host: host ?? { id: printableHostName(file.name.replace(/\.json$/, '')), name: 'unknown host' }, ageSeconds: Math.max(0, (now - file.modifyTime) / 1000) });
    }
    return leases;
  }

  /** The server's clock, read from the mtime of a file we just wrote: hosts' clocks may differ. */
  private async serverNow(client: SftpClient): Promise<number> {
    await ensureDir(client, path.posix.dirname(this.clockFile));
    await client.put(Buffer.from('tick\n'), this.clockFile);
    return (await client.stat(this.clockFile)).modifyTime;
  }

  /**
   * Moves the change marker: its times are set to random values, so two changes within one
   * second (SFTP times are whole seconds) still give two different stamps.
   */
  private async moveMarker(client: SftpClient, { sftp }: Connected): Promise<void> {
    if ((await client.exists(this.markerFile)) === false) await client.put(Buffer.from('moved by every publish and withdrawal\n'), this.markerFile);
    const stamp = 1_000_000_000 + Math.floor(Math.random() * 1_000_000_000);
    await new Promise<void>((resolve, reject) => sftp.utimes(this.markerFile, stamp, stamp, (error) => (error ? reject(error) : resolve())));
  }

  private recordFile = (name: string): string => path.posix.join(this.volumesDir, `${name}.json`);
  private takenFile = (name: string): string => path.posix.join(this.removingDir, `${name}.${this.host.id}.json`);
  private tombstoneFile = (name: string): string => path.posix.join(this.removedDir, `${name}.json`);
  private leaseFile = (name: string): string => path.posix.join(this.leasesDir, name, `${this.host.id}.json`);
}

/**
 * mkdir -p that another host may race: ssh2-sftp-client checks, then creates, and when the
 * other host created the directory in between, OpenSSH answers with a generic failure
 * (reported as "permission denied"). A directory that exists after a failed mkdir is success.
 */
export async function ensureDir(client: SftpClient, dir: string): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      if ((await client.exists(dir)) === 'd') return;
      await client.mkdir(forSftpClient(dir), true);
      return;
    } catch (error) {
      if ((await client.exists(dir)) === 'd') return;
      // A parent made by the other host mid-way: the next round starts below it.
      if (attempt >= 3) throw error;
    }
  }
}

async function listOrEmpty(client: SftpClient, dir: string): Promise<SftpClient.FileInfo[]> {
  try {
    return await client.list(dir);
  } catch (error) {
    if (isMissing(error)) return [];
    throw error;
  }
}

/** A small JSON file parsed by `parse`; undefined when it is missing (removed while we looked). */
async function readJson<T>(client: SftpClient, file: string, parse: (text: string) => T | undefined): Promise<T | undefined> {
  try {
    return parse(((await client.get(file)) as Buffer).toString('utf8'));
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}
