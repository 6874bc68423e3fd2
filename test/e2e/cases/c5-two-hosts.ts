import assert from 'node:assert/strict';
import type { TestSshd } from '../../support/sshd';
import type { Engine } from '../support/engine';
import { sftpOptions, waitRunning } from '../support/helpers';
import { timedDescribe } from '../support/timings';
import type { World } from '../support/world';

/**
 * Polls every 20 ms until /data/$F holds $P, then prints the host uptime (10 ms resolution)
 * and how many polls found the file there with other content (a half-written or old file).
 */
const WATCH =
  "trap 'exit 3' TERM; o=0; while :; do if [ \"$(cat \"/data/$F\" 2>/dev/null)\" = \"$P\" ]; then echo \"$(cut -d' ' -f1 /proc/uptime) $o\"; exit 0; fi; [ -e \"/data/$F\" ] && o=$((o+1)); usleep 20000; done";
/** Writes $P to /data/$F in place; prints the host uptime once the write (and close) returned. */
const WRITE_IN_PLACE = "printf '%s' \"$P\" > \"/data/$F\" && cut -d' ' -f1 /proc/uptime";
/** Writes $P to a temporary name and renames it to /data/$F (how files are published safely). */
const WRITE_ATOMIC = "printf '%s' \"$P\" > \"/data/.$F.tmp\" && mv \"/data/.$F.tmp\" \"/data/$F\" && cut -d' ' -f1 /proc/uptime";

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

    /**
     * Writer on `from`, watcher (a running container) on `to`; returns the delay from the
     * moment the write returned to the moment the watcher read the new content.
     */
    async function propagation(from: Engine, to: Engine, file: string, script: string, payload: string): Promise<{ delayMs: number; other: number }> {
      const env = ['-e', `F=${file}`, '-e', `P=${payload}`];
      await to.startContainer('c5-watch', [...env, '-v', `${VOL}:/data`], WATCH);
      try {
        await waitRunning(to, 'c5-watch');
        const written = Number((await from.runContainer([...env, '-v', `${VOL}:/data`], script)).trim());
        const wait = await to.docker(['wait', 'c5-watch'], { timeoutMs: 15_000 });
        assert.equal(wait.stdout.trim(), '0', `the watcher on ${to.name} did not see the file within 15 s (${wait.stderr})`);
        const [seenText, otherText] = (await to.dockerOk(['logs', 'c5-watch'])).trim().split(' ');
        const seen = Number(seenText);
        const other = Number(otherText);
        assert.ok(Number.isFinite(written) && Number.isFinite(seen), `timestamps: ${written} ${seen}`);
        const delayMs = Math.round((seen - written) * 1000);
        console.log(`      ${from.name} -> ${to.name} ${file}: seen ${delayMs} ms after the write returned (10 ms resolution); ${other} polls saw other content first`);
        return { delayMs, other };
      } finally {
        await to.removeContainer('c5-watch');
      }
    }

    it('a new file published on engine A (write + rename) is read by a running container on engine B within 1 s', async function () {
      this.timeout(120_000);
      assert.ok((await b.volumeInspect(VOL)).Status?.backend === 'sftp');
      const { delayMs } = await propagation(a, b, 'a2b', WRITE_ATOMIC, `a-to-b-${Date.now()}`);
      assert.ok(delayMs < 1000, `B saw A's write after ${delayMs} ms`);
      assert.match(await b.runContainer(['-v', `${VOL}:/data`], 'cat /data/a2b'), /^a-to-b-\d+$/);
    });

    it('and one published on engine B is read on engine A within 1 s', async function () {
      this.timeout(120_000);
      const { delayMs } = await propagation(b, a, 'b2a', WRITE_ATOMIC, `b-to-a-${Date.now()}`);
      assert.ok(delayMs < 1000, `A saw B's write after ${delayMs} ms`);
    });

    it('in-place writes (new file, then a longer overwrite) on A are read on B within 1 s, also when B caught the file half-written', async function () {
      this.timeout(120_000);
      // A reader that stats the file between its creation and the write keeps the empty
      // file's attributes for cache_timeout (0.5 s by default): still inside the second.
      for (const [file, payload] of [['inplace', `new-${Date.now()}`], ['inplace', `longer-overwrite-${Date.now()}`]] as const) {
        const { delayMs, other } = await propagation(a, b, file, WRITE_IN_PLACE, payload);
        assert.ok(delayMs < 1000, `B saw A's in-place write of ${file} after ${delayMs} ms (${other} polls saw other content first)`);
      }
    });
  });
}
