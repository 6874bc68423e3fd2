import assert from 'node:assert/strict';
import type { TestSshd } from '../../support/sshd';
import type { Engine } from '../support/engine';
import { sftpOptions, waitRunning } from '../support/helpers';
import { timedDescribe } from '../support/timings';
import type { World } from '../support/world';

/** Polls every 20 ms for /data/$F holding $P; prints the host uptime when seen. */
const WATCH =
  "trap 'exit 3' TERM; while :; do if [ \"$(cat \"/data/$F\" 2>/dev/null)\" = \"$P\" ]; then cut -d' ' -f1 /proc/uptime; exit 0; fi; usleep 20000; done";
/** Writes $P to /data/$F; prints the host uptime once the write (and close) returned. */
const WRITE = "printf '%s' \"$P\" > \"/data/$F\" && cut -d' ' -f1 /proc/uptime";

export function twoHosts(world: World): void {
  timedDescribe(world.timings, 'case 5: two engines as two hosts share one SFTP volume', function () {
    let a: Engine;
    let b: Engine;
    let sshd: TestSshd;
    const VOL = 'c5-shared';

    before(async function () {
      this.timeout(1_200_000);
      [a, b, sshd] = await Promise.all([world.engineA(), world.engineB(), world.sshd()]);
      // the same options on both hosts
      await a.createVolume(VOL, sftpOptions(sshd, VOL));
      await b.createVolume(VOL, sftpOptions(sshd, VOL));
    });

    after(async function () {
      this.timeout(120_000);
      for (const e of [a, b]) {
        if (e === undefined) continue;
        await e.removeContainer('c5-watch');
        await e.docker(['volume', 'rm', VOL]);
      }
    });

    /** Writer on `from`, watcher on `to`; returns the delay in ms from write to sight. */
    async function propagation(from: Engine, to: Engine, file: string): Promise<number> {
      const payload = `${from.name}-to-${to.name}-${Date.now()}`;
      const env = ['-e', `F=${file}`, '-e', `P=${payload}`];
      await to.startContainer('c5-watch', [...env, '-v', `${VOL}:/data`], WATCH);
      try {
        await waitRunning(to, 'c5-watch');
        const written = Number((await from.runContainer([...env, '-v', `${VOL}:/data`], WRITE)).trim());
        const wait = await to.docker(['wait', 'c5-watch'], { timeoutMs: 15_000 });
        assert.equal(wait.stdout.trim(), '0', `the watcher on ${to.name} did not see the file within 15 s (${wait.stderr})`);
        const seen = Number((await to.dockerOk(['logs', 'c5-watch'])).trim());
        assert.ok(Number.isFinite(written) && Number.isFinite(seen), `timestamps: ${written} ${seen}`);
        const delayMs = Math.round((seen - written) * 1000);
        console.log(`      ${from.name} -> ${to.name}: seen ${delayMs} ms after the write returned (uptime resolution 10 ms)`);
        return delayMs;
      } finally {
        await to.removeContainer('c5-watch');
      }
    }

    it('a write in a container on engine A is read by a container on engine B within 1 s', async function () {
      this.timeout(120_000);
      assert.ok((await b.volumeInspect(VOL)).Status?.backend === 'sftp');
      const delay = await propagation(a, b, 'a2b');
      assert.ok(delay < 1000, `B saw A's write after ${delay} ms`);
      assert.equal(await b.runContainer(['-v', `${VOL}:/data`], 'cat /data/a2b').then((s) => s.startsWith('a-to-b-')), true);
    });

    it('and a write on engine B is read on engine A within 1 s', async function () {
      this.timeout(120_000);
      const delay = await propagation(b, a, 'b2a');
      assert.ok(delay < 1000, `A saw B's write after ${delay} ms`);
    });

    it('an overwrite of an existing file on A is seen by a running container on B within 1 s', async function () {
      this.timeout(120_000);
      // the watcher has the old content in view (attribute caches), then A rewrites the file
      const delay = await propagation(a, b, 'a2b');
      assert.ok(delay < 1000, `B saw A's overwrite after ${delay} ms`);
    });
  });
}
