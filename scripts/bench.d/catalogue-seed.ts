/**
 * Store volumes in numbers, quickly: records written straight into the sshd user's store
 * directory on local disk instead of 10,000 Creates. Each is a copy of a record a host
 * published (same options, creator, time and format; only the name differs, and the file's
 * name matches it), so a host admits it as it would the original (record-checks.ts), and
 * is owned by the sshd test user with the original's mode, as a file written over SFTP is.
 * Its data directory is made too when the original's exists. Then the change marker is
 * moved with nothing in the change log, as a host of the previous version moves it: every
 * host reads the whole catalogue at its next poll (docs/catalogue-protocol.md, Visibility).
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
  const marker = sshd.serverPath(storeDir, '.docker-volume-sftp', 'changes');
  const temp = `${marker}.seed.tmp`;
  fs.writeFileSync(temp, `seeded ${names.length}\n`);
  fs.chownSync(temp, sshd.uid, sshd.gid);
  // Times of its own, as every writer of the marker sets them: the stamp differs from any before.
  const seconds = 1_000_000_000 + Math.floor(Math.random() * 1_000_000_000);
  fs.utimesSync(temp, seconds, seconds);
  fs.renameSync(temp, marker);
}
