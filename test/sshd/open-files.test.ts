import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { sftpOptions, sshfsServing } from '../support/sftp-fixtures';
import { withSshdAndDaemon } from '../support/sshd-and-daemon';

const execFileAsync = promisify(execFile);

/**
 * A program holds files open in a directory, renames the directory (three times), writes
 * on, and closes: what upload handlers, Kafka and build tools do. Python, so that each
 * step is one system call on one descriptor. Prints each file's content as read back.
 */
const RENAMES_WITH_OPEN_FILES = `
import os, sys
root, files, renames = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(os.path.join(root, 'd0'))
open_files = [open(os.path.join(root, 'd0', 'f%d' % i), 'w') for i in range(files)]
for f in open_files:
    f.write('before;'); f.flush()
for r in range(renames):
    os.rename(os.path.join(root, 'd%d' % r), os.path.join(root, 'd%d' % (r + 1)))
    for f in open_files:
        f.write('after %d;' % (r + 1)); f.flush()
for f in open_files:
    f.close()
last = os.path.join(root, 'd%d' % renames)
print('|'.join(open(os.path.join(last, 'f%d' % i)).read() for i in range(files)))
`;

async function renameWithOpenFiles(root: string, files: number, renames: number): Promise<string[]> {
  const { stdout } = await execFileAsync('python3', ['-c', RENAMES_WITH_OPEN_FILES, root, String(files), String(renames)], { timeout: 30_000 });
  return stdout.trim().split('|');
}

describe('open files across a rename of their directory (a real sshd, the share of 4 connections)', function () {
  this.timeout(120_000);
  const fixture = withSshdAndDaemon({ prefix: 'dvs-open-files', env: { SFTP_IDLE_UNMOUNT: '0' } });

  for (const [files, renames] of [
    [1, 1],
    [8, 3],
  ] as const) {
    it(`keeps what ${files} open file(s) wrote across ${renames} rename(s), and the server's other volumes keep working`, async () => {
      const { sshd, daemon } = fixture;
      const [renamed, other] = [`renamed-${files}`, `other-${files}`];
      for (const name of [renamed, other]) await daemon.client.create(name, sftpOptions(sshd, name));
      const renamedAt = await daemon.client.mount(renamed, 'c');
      const otherAt = await daemon.client.mount(other, 'c');
      const [sshfs] = sshfsServing(renamedAt);
      assert.ok(sshfs !== undefined, 'no sshfs serves the volume');
      assert.deepEqual(sshfsServing(otherAt), [sshfs], 'the two volumes of one server are not served by one sshfs');

      const expected = ['before;', ...Array.from({ length: renames }, (_, r) => `after ${r + 1};`)].join('');
      assert.deepEqual(await renameWithOpenFiles(renamedAt, files, renames), Array(files).fill(expected));

      assert.ok(fs.existsSync(`/proc/${sshfs}`), 'sshfs died after the files were closed');
      fs.writeFileSync(path.join(otherAt, 'still'), 'working');
      assert.equal(fs.readFileSync(sshd.serverPath(other, 'still'), 'utf8'), 'working');
      for (let i = 0; i < files; i += 1) assert.equal(fs.readFileSync(sshd.serverPath(renamed, `d${renames}`, `f${i}`), 'utf8'), expected);
      assert.equal(((await daemon.client.get(other)).Status as Record<string, unknown>).connected, true, 'Status of the other volume');

      for (const name of [renamed, other]) await daemon.client.unmount(name, 'c');
      for (const name of [renamed, other]) await daemon.client.remove(name);
    });
  }
});
