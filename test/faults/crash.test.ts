import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { delay, mountsUnder } from '../support/daemon-process';
import { eventually, sftpOptions, sshfsServing, sshfsUnder } from '../support/sftp-fixtures';
import { withSshdAndDaemon } from '../support/sshd-and-daemon';
import { faultRuns } from './fault-settings';

type Op = { kind: 'create' } | { kind: 'remove' } | { kind: 'mount'; id: string } | { kind: 'unmount'; id: string };

/** What the test knows was acknowledged, plus the one operation that may have been cut off. */
interface Model {
  exists: boolean;
  mounts: Map<string, number>;
  inFlight: Op | undefined;
}

const total = (model: Model): number => [...model.mounts.values()].reduce((a, b) => a + b, 0);

function apply(model: Model, op: Op): void {
  if (op.kind === 'create') model.exists = true;
  else if (op.kind === 'remove') model.exists = false;
  else {
    const count = (model.mounts.get(op.id) ?? 0) + (op.kind === 'mount' ? 1 : -1);
    if (count === 0) model.mounts.delete(op.id);
    else model.mounts.set(op.id, count);
  }
}

describe('kill -9 at random points of a mixed local and SFTP workload', function () {
  this.timeout(60 * 60_000);
  const fixture = withSshdAndDaemon({ prefix: 'dvs-crash', env: { LOG_LEVEL: 'warn' }, startDaemons: false });

  it(`loses no acknowledged change over ${faultRuns.crashes} crashes and leaves no orphan sshfs or stale mount`, async () => {
    const { sshd, daemon } = fixture;
    const names = ['l1', 'l2', 'l3', 's1', 's2'];
    const options = (name: string): Record<string, string> => (name.startsWith('s') ? sftpOptions(sshd, name) : {});
    const models = new Map<string, Model>(names.map((n) => [n, { exists: false, mounts: new Map(), inFlight: undefined }]));
    let random = Number(process.env.CRASH_SEED ?? Date.now() % 100_000);
    console.log(`      crash seed ${random} (replay with CRASH_SEED=${random})`);
    const next = (n: number): number => {
      random = (random * 1103515245 + 12345) % 2 ** 31;
      return random % n;
    };
    let acknowledged = 0;

    /** After a start: the daemon must show every acknowledged change; a cut-off op may or may not have landed. */
    const verify = async (round: number): Promise<void> => {
      for (const [name, model] of models) {
        const reply = await daemon.client.call('/VolumeDriver.Get', { Name: name });
        const exists = reply.body.Err === '';
        const mounts = exists ? (reply.body.Volume as { Status: { mounts: number } }).Status.mounts : 0;
        const op = model.inFlight;
        model.inFlight = undefined;
        if (op !== undefined) {
          const landed: Model = { exists: model.exists, mounts: new Map(model.mounts), inFlight: undefined };
          apply(landed, op);
          if (exists === landed.exists && mounts === total(landed)) {
            apply(model, op);
            continue;
          }
        }
        assert.equal(exists, model.exists, `round ${round}: ${name} exists=${exists}, acknowledged ${model.exists} (cut off: ${JSON.stringify(op)})`);
        assert.equal(mounts, total(model), `round ${round}: ${name} has ${mounts} mounts, acknowledged ${total(model)} (cut off: ${JSON.stringify(op)})`);
      }
    };

    for (let round = 0; round < faultRuns.crashes; round += 1) {
      await daemon.start();
      await verify(round);
      let stop = false;
      const worker = async (name: string): Promise<void> => {
        const model = models.get(name)!;
        const c = daemon.client;
        while (!stop) {
          const choice = next(10);
          let op: Op | undefined;
          if (!model.exists) op = { kind: 'create' };
          else if (choice < 4) op = { kind: 'mount', id: `id${next(3)}` };
          else if (choice < 8 && total(model) > 0) op = { kind: 'unmount', id: [...model.mounts.keys()][next(model.mounts.size)]! };
          else if (choice >= 8 && total(model) === 0) op = { kind: 'remove' };
          if (op === undefined) continue;
          model.inFlight = op;
          try {
            if (op.kind === 'create') await c.create(name, options(name));
            else if (op.kind === 'remove') await c.remove(name);
            else if (op.kind === 'mount') await c.mount(name, op.id);
            else await c.unmount(name, op.id);
          } catch {
            return; // the daemon died under us: the op stays in flight
          }
          model.inFlight = undefined;
          apply(model, op);
          acknowledged += 1;
        }
      };
      const workers = Promise.all(names.map(worker));
      await delay(20 + next(200));
      stop = true;
      await daemon.kill9();
      await workers;
    }

    // Recovery: held volumes are mounted, others are not, and every sshfs serves a held volume.
    await daemon.start();
    await verify(faultRuns.crashes);
    const held = names.filter((name) => models.get(name)!.exists && total(models.get(name)!) > 0);
    await eventually(
      'mounts match held volumes',
      () => {
        // SFTP: one sshfs mount each; local: shown through the one shared bind, '.local'
        const mounted = mountsUnder(daemon.dirs.mountRoot).map((m) => m.slice(daemon.dirs.mountRoot.length + 1)).filter((m) => m !== '.local').sort();
        assert.deepEqual(mounted, held.filter((n) => n.startsWith('s')).sort());
        for (const name of held.filter((n) => !n.startsWith('s'))) {
          const shown = path.join(daemon.dirs.mountRoot, '.local', name);
          assert.equal(fs.statSync(shown).ino, fs.statSync(path.join(daemon.dirs.dataDir, 'volumes', name)).ino, `${name} is held but not shown at ${shown}`);
        }
        // One sshfs share serves every SFTP volume here (same server and options).
        const heldSftp = held.filter((n) => n.startsWith('s'));
        assert.equal(sshfsUnder(daemon.dirs.runDir).length, heldSftp.length > 0 ? 1 : 0, 'orphan or missing sshfs');
        for (const name of heldSftp) assert.equal(sshfsServing(path.join(daemon.dirs.mountRoot, name)).length, 1, `${name} is held but no sshfs serves it`);
      },
      15_000,
      100,
    );
    console.log(`      ${acknowledged} acknowledged operations across ${faultRuns.crashes} crashes; held at the end: ${held.join(', ') || 'none'}`);
  });
});
