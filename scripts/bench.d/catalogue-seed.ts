/**
 * Store volumes in numbers, quickly: records written straight into the sshd user's store
 * directory on local disk instead of 10,000 Creates. Each is a copy of a record a host
 * published (same options, creator, time and format; only the name differs, and the file's
 * name matches it), so a host admits it as it would the original (record-checks.ts), and
 * is owned by the sshd test user with the original's mode, as a file written over SFTP is.
 * Its data directory is made too when the original's exists. No change marker is moved:
 * hosts find the records at their next full read of the catalogue.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { TestSshd } from '../../test/support/sshd';

/** Writes a record for each of `names` in the store at `storeDir`, copied from the one of volume `template`. */
export function seedRecords(sshd: TestSshd, storeDir: string, template: string, names: readonly string[]): void {
  const volumes = sshd.serverPath(storeDir, '.docker-volume-sftp', 'volumes');
  const original = path.join(volumes, `${template}.json`);
  const record = JSON.parse(fs.readFileSync(original, 'utf8')) as Record<string, unknown>;
  if (record.name !== template) throw new Error(`${original} is not the record of volume ${template}`);
  const { mode } = fs.statSync(original);
  const dataDir = fs.statSync(sshd.serverPath(storeDir, template), { throwIfNoEntry: false });
  for (const name of names) {
    const file = path.join(volumes, `${name}.json`);
    fs.writeFileSync(file, `${JSON.stringify({ ...record, name })}\n`, { mode: mode & 0o777, flag: 'wx' });
    fs.chownSync(file, sshd.uid, sshd.gid);
    fs.chmodSync(file, mode & 0o777); // not the umask's
    if (dataDir?.isDirectory() === true) {
      const dir = sshd.serverPath(storeDir, name);
      fs.mkdirSync(dir, { mode: dataDir.mode & 0o7777 });
      fs.chownSync(dir, sshd.uid, sshd.gid);
      fs.chmodSync(dir, dataDir.mode & 0o7777);
    }
  }
}
