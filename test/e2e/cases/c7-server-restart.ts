import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { TestSshd } from '../../support/sshd';
import type { Engine } from '../support/engine';
import { eventually, sftpOptions, waitRunning } from '../support/helpers';
import { sleep } from '../support/proc';
import { timedDescribe } from '../support/timings';
import type { World } from '../support/world';

/**
 * Appends "line N" with O_APPEND and fsync (dd conv=fsync); prints "ok N" only when dd
 * succeeded, i.e. the write and the fsync were confirmed; "fail N" otherwise.
 */
const APPENDER =
  "trap 'exit 0' TERM; i=0; while :; do i=$((i+1)); if echo \"line $i\" | dd of=/data/log oflag=append conv=notrunc,fsync 2>/dev/null; then echo \"ok $i\"; else echo \"fail $i\"; fi; usleep 50000; done";

export function serverRestart(world: World): void {
  timedDescribe(world.timings, 'case 7: the SFTP server restarts while a container appends with fsync', function () {
    let a: Engine;
    let sshd: TestSshd;
    const VOL = 'c7-append';
    const NAME = 'c7-appender';

    before(async function () {
      this.timeout(1_200_000);
      [a, sshd] = await Promise.all([world.engineA(), world.sshd()]);
      await a.createVolume(VOL, sftpOptions(sshd, VOL));
    });

    after(async function () {
      this.timeout(120_000);
      if (sshd !== undefined && !sshd.running) await sshd.restart();
      if (a === undefined) return;
      await a.removeContainer(NAME);
      await a.docker(['volume', 'rm', VOL]);
    });

    async function confirmed(): Promise<{ ok: number[]; fail: number[] }> {
      const out = await a.dockerOk(['logs', NAME]);
      const ok: number[] = [];
      const fail: number[] = [];
      for (const m of out.matchAll(/^(ok|fail) (\d+)$/gm)) (m[1] === 'ok' ? ok : fail).push(Number(m[2]));
      return { ok, fail };
    }

    it('the container carries on once the server is back, and no confirmed line is lost', async function () {
      this.timeout(240_000);
      await a.startContainer(NAME, ['-v', `${VOL}:/data`], APPENDER);
      await waitRunning(a, NAME);
      await eventually('20 confirmed appends', async () => assert.ok((await confirmed()).ok.length >= 20), 30_000, 250);

      const atKill = (await confirmed()).ok.length;
      await sshd.kill();
      await sleep(5000);
      const duringOutage = await confirmed();
      await sshd.restart();
      const atRestart = duringOutage.ok.length;
      const t0 = Date.now();
      await eventually(
        'appends confirmed again after the server came back',
        async () => assert.ok((await confirmed()).ok.length >= atRestart + 20, `${(await confirmed()).ok.length} confirmed`),
        90_000,
        250,
      );
      const recoveryMs = Date.now() - t0;
      assert.ok(await a.isRunning(NAME), 'the appender died');
      await a.dockerOk(['stop', '-t', '5', NAME]);

      const { ok, fail } = await confirmed();
      const lines = new Set(fs.readFileSync(sshd.serverPath(VOL, 'log'), 'utf8').split('\n').filter(Boolean));
      const lost = ok.filter((i) => !lines.has(`line ${i}`));
      console.log(
        `      confirmed ${ok.length} appends (${atKill} before the kill, ${duringOutage.ok.length - atKill} during the 5 s outage), ` +
          `${fail.length} failed while the server was away, back ${recoveryMs} ms after restart; server has ${lines.size} lines`,
      );
      assert.deepEqual(lost, [], `confirmed lines missing on the server: ${lost.join(' ')}`);
      assert.ok(ok.length >= atRestart + 20);
      // nothing that ran after the restart failed for good: the last 20 appends all succeeded
      const last = Math.max(...ok, ...fail);
      for (let i = last - 19; i <= last; i++) assert.ok(ok.includes(i), `append ${i} after recovery failed`);
    });
  });
}
