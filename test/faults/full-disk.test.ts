import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { readVolumes } from '../support/state';
import { cleanup, DaemonProcess, makeDirs } from '../support/daemon-process';

describe('PLUGIN_DATA_DIR on a file system that fills up', function () {
  this.timeout(120_000);
  let daemon: DaemonProcess;
  before(async () => {
    const dirs = makeDirs('dvs-full');
    fs.mkdirSync(dirs.dataDir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,nr_inodes=4096', 'dvs-full', dirs.dataDir]);
    daemon = await DaemonProcess.start(dirs, { LOG_LEVEL: 'warn' });
  });
  after(async () => {
    await daemon.stop();
    cleanup(daemon.dirs.base);
  });

  it('fails Create cleanly, keeps the previous state intact and loadable, and recovers when space returns', async () => {
    const stateFile = path.join(daemon.dirs.dataDir, 'state.jsonl');
    for (let i = 0; i < 20; i += 1) await daemon.client.create(`before${i}`, { mode: '0750' });
    await daemon.client.mount('before0', 'held');
    const before = fs.readFileSync(stateFile, 'utf8');

    // Fill the file system to the last byte.
    const filler = path.join(daemon.dirs.dataDir, 'filler');
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k'], { stdio: 'ignore' });
    } catch {
      // dd stops with ENOSPC, which is the point
    }
    let refused = 0;
    for (let i = 0; i < 30; i += 1) {
      const reply = await daemon.client.call('/VolumeDriver.Create', { Name: `after${i}`, Opts: {} });
      if (reply.body.Err !== '') {
        refused += 1;
        assert.match(String(reply.body.Err), /could not (save the plugin state|prepare)|ENOSPC|no space/i);
      }
    }
    assert.ok(refused > 0, 'the file system never filled up');
    assert.match(await daemon.client.err('/VolumeDriver.Mount', { Name: 'before1', ID: 'x' }), /could not save the plugin state/);
    assert.equal(((await daemon.client.get('before1')).Status as { mounts: number }).mounts, 0, 'a refused Mount was counted');
    assert.equal(fs.readFileSync(stateFile, 'utf8').length > 0, true);
    const onDisk = await readVolumes(stateFile);
    for (let i = 0; i < 20; i += 1) assert.ok(onDisk.has(`before${i}`), `before${i} lost from the state file`);
    assert.equal(onDisk.get('before0')?.mounts.held, 1);
    const listed = new Set((await daemon.client.list()).map((v) => v.Name));
    for (const name of onDisk.keys()) assert.ok(listed.has(name));
    for (const name of listed) assert.ok(onDisk.has(name), `${name} answered by the daemon but not on disk`);
    assert.deepEqual(fs.readdirSync(daemon.dirs.dataDir).filter((f) => f.endsWith('.tmp')), [], 'temp file left behind');
    void before;

    fs.rmSync(filler);
    await daemon.client.create('after-space', {});
    await daemon.restart();
    const names = new Set((await daemon.client.list()).map((v) => v.Name));
    assert.ok(names.has('after-space') && names.has('before19'));
    await daemon.client.unmount('before0', 'held');
  });
});
