import assert from 'node:assert/strict';
import fc from 'fast-check';
import path from 'node:path';
import { readVolumes } from '../support/state';
import { cleanup, DaemonProcess, makeDirs } from '../support/daemon-process';
import { faultRuns } from './fault-settings';

const ENDPOINTS = [
  '/Plugin.Activate',
  '/VolumeDriver.Create',
  '/VolumeDriver.Remove',
  '/VolumeDriver.Mount',
  '/VolumeDriver.Path',
  '/VolumeDriver.Unmount',
  '/VolumeDriver.Get',
  '/VolumeDriver.List',
  '/VolumeDriver.Capabilities',
];
const OPTION_NAMES = ['uid', 'gid', 'mode', 'backend', 'host', 'port', 'user', 'path', 'identity', 'password_file', 'hostkey', 'remove', 'cipher', 'ssh_command', 'ProxyCommand', '__proto__', 'constructor', ''];

// Names drawn mostly from a small pool, so that calls meet the same volumes again.
const name = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('aa', 'bb', 'cc', 'vol.1', 'vol-2') },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom('..', '../../etc', '.x', 'a/b', 'x', '', 'a'.repeat(300), '__proto__') },
  { weight: 1, arbitrary: fc.anything() },
);
const options = fc.oneof(
  fc.dictionary(fc.constantFrom(...OPTION_NAMES), fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('0', '1000', '0755', 'local', 'sftp', 'delete', '1,ssh_command=x', '-oX'))),
  fc.anything(),
);
const id = fc.oneof(fc.constantFrom('id1', 'id2', 'id3'), fc.string({ maxLength: 300 }), fc.anything());
const body = fc.oneof(
  { weight: 6, arbitrary: fc.record({ Name: name, Opts: options, ID: id }, { requiredKeys: [] }).map((value) => JSON.stringify(value) ?? '') },
  { weight: 1, arbitrary: fc.json() },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString('latin1')) },
  { weight: 1, arbitrary: fc.constantFrom('', '{', 'null', '[]', '"x"', '{"Name":', '{"Name":"aa","Opts":{"uid":5}}') },
);
const request = fc.record({
  endpoint: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...ENDPOINTS) }, { weight: 1, arbitrary: fc.webPath() }),
  method: fc.oneof({ weight: 9, arbitrary: fc.constant('POST') }, { weight: 1, arbitrary: fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH') }),
  body,
});

describe('fuzzing the socket API (real daemon process)', function () {
  this.timeout(30 * 60_000);
  let daemon: DaemonProcess;
  before(async () => {
    daemon = await DaemonProcess.start(makeDirs('dvs-fuzz'), { LOG_LEVEL: 'error' });
  });
  after(async () => {
    await daemon.stop();
    cleanup(daemon.dirs.base);
  });

  it(`answers ${faultRuns.fuzz} generated requests with valid JSON, never crashing, and keeps a loadable state`, async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
    console.log(`      fuzz seed ${seed} (replay with FUZZ_SEED=${seed})`);
    let errors = 0;
    await fc.assert(
      fc.asyncProperty(request, async ({ endpoint, method, body: text }) => {
        const reply = await daemon.client.call(endpoint, undefined, { method, rawBody: text });
        const known = ENDPOINTS.includes(endpoint) && method === 'POST';
        if (!known) assert.ok(typeof reply.body.Err === 'string' && reply.body.Err !== '', `no Err for ${method} ${endpoint}`);
        if (reply.status !== 200) assert.ok(typeof reply.body.Err === 'string' && reply.body.Err !== '', `status ${reply.status} without Err`);
        if (typeof reply.body.Err === 'string' && reply.body.Err !== '') errors += 1;
        assert.equal(daemon.child?.exitCode, null, `daemon exited:\n${daemon.output.slice(-2000)}`);
      }),
      { numRuns: faultRuns.fuzz, seed },
    );
    assert.ok(errors > faultRuns.fuzz / 10, `only ${errors} requests were refused: the generator is too tame`);
    const state = await readVolumes(path.join(daemon.dirs.dataDir, 'state.jsonl'));
    await daemon.restart();
    assert.deepEqual((await daemon.client.list()).map((v) => v.Name).sort(), [...state.keys()].sort());
    assert.ok(state.size > 0, 'no Create succeeded: the generator never reached the volume service');
    console.log(`      ${errors} refused, ${state.size} volumes, ${[...state.values()].filter((v) => Object.keys(v.mounts).length > 0).length} mounted at the end`);
  });
});
