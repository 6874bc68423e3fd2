import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLOCK_TICKS, findSshfsRuntime } from '../../src/backends/sftp/sshfs/sshfs-runtime';
import { mappedFiles } from '../../src/system/processes';

const DIST = path.join(__dirname, '..', '..', 'dist');

/**
 * The libraries preloaded into sshfs are promised only when this host's sshfs loads them:
 * asked of the real sshfs binary, with the libraries npm run build made.
 */
describe('the sshfs this host runs, and the libraries it loads', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dvs-runtime-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('uses both libraries when sshfs loads them: quarter-second ticks and guarded open files', () => {
    const runtime = findSshfsRuntime(DIST);
    assert.equal(runtime.ticksPerSecond, CLOCK_TICKS);
    assert.equal(runtime.guardsOpenFiles, true);
    assert.deepEqual(runtime.unused, { clock: undefined, openFiles: undefined });
    assert.equal(runtime.env.LD_PRELOAD, ['sshfs-clock.so', 'sshfs-open-files.so'].map((name) => path.join(DIST, name)).join(':'));
  });

  it('falls back to whole seconds when the clock library is missing', () => {
    const runtime = findSshfsRuntime(dir);
    assert.equal(runtime.ticksPerSecond, 1);
    assert.equal(runtime.guardsOpenFiles, false);
    assert.match(runtime.unused.clock ?? '', /sshfs-clock\.so is missing/);
    assert.equal(runtime.env.LD_PRELOAD, undefined);
  });

  it('does not promise what a library that sshfs does not load would give', () => {
    // A library of that name that never answers the probe: as if sshfs had not loaded it.
    fs.writeFileSync(path.join(dir, 'silent.c'), 'int silent_library_marker(void) { return 0; }\n');
    execFileSync('cc', ['-shared', '-fPIC', '-o', path.join(dir, 'sshfs-clock.so'), path.join(dir, 'silent.c')]);
    fs.copyFileSync(path.join(DIST, 'sshfs-open-files.so'), path.join(dir, 'sshfs-open-files.so'));
    const runtime = findSshfsRuntime(dir);
    assert.equal(runtime.ticksPerSecond, 1);
    assert.equal(runtime.guardsOpenFiles, true);
    assert.match(runtime.unused.clock ?? '', /sshfs does not load sshfs-clock\.so/);
    assert.equal(runtime.env.LD_PRELOAD, path.join(dir, 'sshfs-open-files.so'));
    assert.equal(runtime.env.SSHFS_CLOCK_TICKS, undefined);
  });

  it("reads a process's memory map: a preloaded library is there, one not preloaded is not", async () => {
    const clock = path.join(DIST, 'sshfs-clock.so');
    const withIt = spawn('sleep', ['5'], { env: { ...process.env, LD_PRELOAD: clock } });
    const without = spawn('sleep', ['5'], { env: { ...process.env, LD_PRELOAD: '' } });
    try {
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.ok((await mappedFiles(withIt.pid ?? 0)).has(clock));
      assert.ok(!(await mappedFiles(without.pid ?? 0)).has(clock));
    } finally {
      withIt.kill();
      without.kill();
    }
  });
});
