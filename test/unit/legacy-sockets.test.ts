import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { legacySocketPaths, removeStaleLegacySockets } from '../support/legacy-plugin-sockets';

/** A socket file left by a process that died while listening (exit skips any unlink). */
function staleSocket(file: string): void {
  execFileSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(file)}, () => process.exit(0))`]);
  assert.ok(fs.lstatSync(file).isSocket());
}

describe('stale legacy plugin sockets (test and bench harness)', () => {
  let dir: string;
  let live: net.Server;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dvs-legacy-'));
    fs.mkdirSync(path.join(dir, 'nested'));
    fs.mkdirSync(path.join(dir, 'abc123'));
    live = net.createServer();
    await new Promise<void>((resolve) => live.listen(path.join(dir, 'live.sock'), resolve));
  });

  afterEach(async () => {
    await new Promise((resolve) => live.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('removes only the sockets an engine would dial that refuse connections, and names them', async () => {
    staleSocket(path.join(dir, 'dead.sock'));
    staleSocket(path.join(dir, 'nested', 'nested.sock'));
    // a managed plugin's socket (ID dir, other name): the engine's legacy lookup never dials it
    staleSocket(path.join(dir, 'abc123', 'sftp.sock'));
    fs.writeFileSync(path.join(dir, 'plain.sock'), 'not a socket');

    assert.deepEqual(legacySocketPaths(dir).map((f) => path.relative(dir, f)).sort(), ['dead.sock', 'live.sock', 'nested/nested.sock']);
    const lines: string[] = [];
    const removed = await removeStaleLegacySockets((line) => lines.push(line), dir);

    assert.deepEqual(removed.map((f) => path.relative(dir, f)).sort(), ['dead.sock', 'nested/nested.sock']);
    assert.equal(lines.length, 2);
    assert.match(lines[0] ?? '', /removed stale plugin socket .*nothing listens/);
    for (const kept of ['live.sock', 'abc123/sftp.sock', 'plain.sock']) assert.ok(fs.existsSync(path.join(dir, kept)), `${kept} was removed`);
  });

  it('finds nothing in a directory that does not exist', async () => {
    assert.deepEqual(await removeStaleLegacySockets(() => assert.fail('reported'), path.join(dir, 'absent')), []);
  });
});
