import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { TestSshd } from '../../support/sshd';
import type { Engine } from '../support/engine';
import { serverFile, sftpOptions } from '../support/helpers';
import { timedDescribe } from '../support/timings';
import type { World } from '../support/world';

export function nonRootUser(world: World): void {
  timedDescribe(world.timings, 'case 8: a container running as a non-root user writes to an SFTP volume', function () {
    let a: Engine;
    let sshd: TestSshd;

    before(async function () {
      this.timeout(1_200_000);
      [a, sshd] = await Promise.all([world.engineA(), world.sshd()]);
    });

    after(async function () {
      this.timeout(60_000);
      if (a !== undefined) await a.docker(['volume', 'rm', 'c8-default', 'c8-mapped']);
    });

    it('--user 1000:1000 writes to a volume with default options', async function () {
      this.timeout(120_000);
      await a.createVolume('c8-default', sftpOptions(sshd, 'c8-default'));
      const out = await a.runContainer(['--user', '1000:1000', '-v', 'c8-default:/data'], 'id -u && echo by-1000 > /data/f && cat /data/f && mkdir /data/d && echo x > /data/d/x');
      assert.equal(out, '1000\nby-1000\n');
      await serverFile(sshd, ['c8-default', 'f'], 'by-1000\n');
      assert.equal(fs.readFileSync(sshd.serverPath('c8-default', 'd', 'x'), 'utf8'), 'x\n');
    });

    it('--user 1000:1000 with -o uid=1000 -o gid=1000: the files show as its own', async function () {
      this.timeout(120_000);
      await a.createVolume('c8-mapped', sftpOptions(sshd, 'c8-mapped', { uid: '1000', gid: '1000' }));
      const out = await a.runContainer(
        ['--user', '1000:1000', '-v', 'c8-mapped:/data'],
        "echo mine > /data/f && stat -c '%u:%g' /data /data/f && chmod 600 /data/f && cat /data/f",
      );
      assert.equal(out, '1000:1000\n1000:1000\nmine\n');
      await serverFile(sshd, ['c8-mapped', 'f'], 'mine\n');
      // on the server the file belongs to the SFTP login user
      assert.equal(fs.statSync(sshd.serverPath('c8-mapped', 'f')).uid, fs.statSync(sshd.serverPath('c8-mapped')).uid);
    });
  });
}
