import { createHash } from 'node:crypto';
import { checkVolumeName } from '../../../common/volume-name';
import { describe, PluginError } from '../../../errors';
import type { Logger } from '../../../log';
import { checkOptions } from '../../../options/schema';
import type { CatalogueEntry } from '../../backend';
import type { DefaultStore } from '../default-store';
import { optionValue, SFTP_OPTIONS, SFTP_REFUSED } from '../sftp-options';
import { resolveSettings } from '../sftp-settings';
import { isHostId, isHostName } from './host-identity';
import { parseEntry } from './catalogue-records';

/**
 * Whether a record read from the store may be used by this host: records are input from
 * whoever can write to the store, so they pass the checks a Create passes (names, option
 * names and values, the base path and the path rules), name this store and its login as
 * their server, and carry a host identity as this plugin writes one. Throws the reason.
 */
export function checkStoreRecord(entry: CatalogueEntry, store: DefaultStore, keysDir: string): void {
  checkVolumeName(entry.name);
  checkOptions('sftp', SFTP_OPTIONS, entry.options, SFTP_REFUSED);
  const { host, user, hostkey } = store.defaults;
  if (!store.holds(entry.options)) {
    throw new PluginError('BAD_OPTION', `it names another server (${entry.options.host ?? host}:${optionValue(entry.options, 'port') ?? store.port}), not this store (${host}:${store.port})`);
  }
  if (entry.options.user !== undefined && entry.options.user !== user) {
    throw new PluginError('BAD_OPTION', `it names another login (user=${entry.options.user}) than this store's (${user ?? 'none set'})`);
  }
  if (entry.options.hostkey !== undefined && entry.options.hostkey !== hostkey) {
    throw new PluginError('BAD_OPTION', `it names another host key (${entry.options.hostkey}) than this host trusts for the store (${hostkey ?? 'keys/known_hosts'})`);
  }
  // Base path, path rules, option combinations: the settings a Mount would use.
  resolveSettings({ name: entry.name, options: entry.options, mountpoint: '' }, store, keysDir);
  if (!isHostId(entry.createdBy.id) || !isHostName(entry.createdBy.name)) {
    throw new PluginError('BAD_OPTION', 'its createdBy is not a host identity this plugin writes (a host ID and a name of letters, digits, _ . -)');
  }
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(entry.createdAt) || Number.isNaN(Date.parse(entry.createdAt))) {
    throw new PluginError('BAD_OPTION', 'its createdAt is not a time as this plugin writes it (ISO 8601, UTC)');
  }
}

/**
 * The door every record read from the store goes through (catalogue-remote.ts): a record
 * that fails the checks is ignored, with one warning per version of its file (not one per
 * refresh), naming the file and the reason.
 */
export class RecordGate {
  /** File -> the version last warned about (a digest of its content, or its listing stamp). */
  private readonly warned = new Map<string, string>();
  /** File -> the listing stamp of a version refused: a listing does not read it again. */
  private readonly refusedStamps = new Map<string, string>();

  constructor(
    private readonly check: (entry: CatalogueEntry) => void,
    private readonly log: Logger,
  ) {}

  /** The volume name a record's file name gives, or undefined (warned) when it is not one. */
  nameOf(file: string, fileName: string, stamp: string): string | undefined {
    const name = fileName.replace(/\.json$/, '');
    try {
      return checkVolumeName(name);
    } catch (error) {
      this.refuse(file, stamp, `its file name does not give a volume name: ${describe(error)}`);
      return undefined;
    }
  }

  /** This version of the file was refused already: no need to read it again. */
  refusedBefore(file: string, stamp: string): boolean {
    return this.refusedStamps.get(file) === stamp;
  }

  /** The record in `text` (the content of `file`) when this host may use it; undefined otherwise (warned once). */
  admit(file: string, name: string, text: string, stamp?: string): CatalogueEntry | undefined {
    const entry = parseEntry(text, name);
    const version = createHash('sha256').update(text).digest('hex').slice(0, 16);
    if (entry === undefined) return this.refuse(file, version, 'it is not a volume record of this plugin (JSON with name, options, createdAt, createdBy)', stamp);
    try {
      this.check(entry);
      this.warned.delete(file);
      if (stamp !== undefined) this.refusedStamps.delete(file);
      return entry;
    } catch (error) {
      return this.refuse(file, version, describe(error), stamp);
    }
  }

  /** A record kept from an earlier read (the local copy), checked again: the rules may have changed. */
  admitsKept(entry: CatalogueEntry): boolean {
    try {
      this.check(entry);
      return true;
    } catch (error) {
      this.log.warn('record in the local copy of the catalogue ignored', { volume: JSON.stringify(entry.name), reason: describe(error) });
      return false;
    }
  }

  private refuse(file: string, version: string, reason: string, stamp?: string): undefined {
    if (stamp !== undefined) this.refusedStamps.set(file, stamp);
    if (this.warned.get(file) === version) return undefined;
    this.warned.set(file, version);
    this.log.warn('store record ignored', { file, reason });
    return undefined;
  }
}
