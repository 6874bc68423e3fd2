import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { delay } from '../support/daemon-process';
import { eventually, sftpOptions, sshfsServing } from '../support/sftp-fixtures';
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

/**
 * A log held open in a container: one descriptor, an append and an fsync every 100 ms,
 * each attempt printed as "ok|err <line> <ms since epoch>" (one system call per step).
 */
const APPENDS_THROUGH_ONE_DESCRIPTOR = `
import os, signal, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
line = 0
while not stop:
    at = int(time.time() * 1000)
    try:
        os.write(fd, b'line %d\\n' % line)
        os.fsync(fd)
        print('ok', line, at, flush=True)
        line += 1
    except OSError as e:
        print('err', line, at, e.errno, flush=True)
    time.sleep(0.1)
`;

/** Writes "b" with the server frozen (so the write is in flight when the connection drops), then fsyncs and goes on. */
const WRITE_LOST_IN_A_DROP = `
import os, sys
def step(name, *calls):
    try:
        for call in calls: call()
        print(name + ': ok', flush=True)
    except OSError as e:
        print(name + ': errno %d' % e.errno, flush=True)
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
os.write(fd, b'a\\n'); os.fsync(fd)
print('confirmed a', flush=True)
sys.stdin.readline()
os.write(fd, b'b\\n')
print('wrote b', flush=True)
sys.stdin.readline()
step('fsync', lambda: os.fsync(fd))
step('write c', lambda: os.write(fd, b'c\\n'))
step('fsync', lambda: os.fsync(fd))
print('done', flush=True)
`;

interface Attempt {
  ok: boolean;
  line: number;
  at: number;
}

describe('an open file across a server restart (a real sshd, killed and started again)', function () {
  this.timeout(120_000);
  const fixture = withSshdAndDaemon({ prefix: 'dvs-reopen', env: { SFTP_IDLE_UNMOUNT: '0' } });

  for (const connections of ['4', '1']) {
    it(`works again through the same descriptor from the second after the server is back, and keeps every confirmed line (connections=${connections})`, async () => {
      const { sshd, daemon } = fixture;
      await daemon.client.create('held', sftpOptions(sshd, 'held', { connections }));
      const mountpoint = await daemon.client.mount('held', 'c');
      let output = '';
      const writer = spawn('python3', ['-c', APPENDS_THROUGH_ONE_DESCRIPTOR, path.join(mountpoint, 'log.txt')], { stdio: ['ignore', 'pipe', 'inherit'] });
      writer.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      const attempts = (): Attempt[] =>
        output
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split(' '))
          .map(([result, line, at]) => ({ ok: result === 'ok', line: Number(line), at: Number(at) }));
      let backAt = 0;
      try {
        await eventually('appends before the outage', () => assert.ok(attempts().filter((a) => a.ok).length >= 10), 20_000, 50);
        await sshd.kill();
        await delay(3000);
        await sshd.restart();
        backAt = Date.now();
        await eventually('two more seconds of appends', () => assert.ok(attempts().filter((a) => a.at > backAt + 3000).length > 0), 30_000, 100);
      } finally {
        const exited = new Promise((resolve) => writer.once('exit', resolve));
        writer.kill('SIGTERM');
        await exited;
      }
      const during = attempts().filter((a) => a.at > backAt - 3000 && a.at < backAt);
      const after = attempts().filter((a) => a.at >= backAt + 1000);
      assert.ok(during.some((a) => !a.ok), 'no append failed while the server was down: the outage was not seen');
      assert.ok(after.length >= 10, `only ${after.length} appends after the return`);
      assert.deepEqual(after.filter((a) => !a.ok), [], 'appends failed from the second after the server was back');
      const onServer = new Set(fs.readFileSync(sshd.serverPath('held', 'log.txt'), 'utf8').split('\n'));
      for (const a of attempts().filter((x) => x.ok)) assert.ok(onServer.has(`line ${a.line}`), `line ${a.line} was confirmed by fsync but is not on the server`);
      console.log(
        `      ${attempts().filter((a) => a.ok && a.at < backAt - 3000).length} appends before, ${during.filter((a) => !a.ok).length} failed during the 3 s outage, ` +
          `${attempts().filter((a) => a.at >= backAt && a.at < backAt + 1000 && !a.ok).length} failed in the first second back, ${after.length} after it all confirmed`,
      );
      await daemon.client.unmount('held', 'c');
      await daemon.client.remove('held');
    });
  }

  it('tells a write the drop lost: the next fsync fails with EIO, and the descriptor works after it', async () => {
    const { sshd, daemon } = fixture;
    await daemon.client.create('lost', sftpOptions(sshd, 'lost'));
    const mountpoint = await daemon.client.mount('lost', 'c');
    const steps = spawn('python3', ['-c', WRITE_LOST_IN_A_DROP, path.join(mountpoint, 'log.txt')], { stdio: ['pipe', 'pipe', 'inherit'] });
    let output = '';
    steps.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const printed = (line: string) => eventually(line, () => assert.ok(output.split('\n').includes(line), output), 30_000, 20);
    try {
      await printed('confirmed a');
      sshd.pause(); // what is written now stays in flight
      steps.stdin.write('go\n');
      await printed('wrote b');
      await sshd.kill();
      await sshd.restart();
      steps.stdin.write('go\n');
      await printed('done');
    } finally {
      steps.kill('SIGKILL');
    }
    assert.deepEqual(output.trim().split('\n'), ['confirmed a', 'wrote b', 'fsync: errno 5', 'write c: ok', 'fsync: ok', 'done']);
    assert.equal(fs.readFileSync(sshd.serverPath('lost', 'log.txt'), 'utf8'), 'a\nc\n');
    await daemon.client.unmount('lost', 'c');
    await daemon.client.remove('lost');
  });
});
