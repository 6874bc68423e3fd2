import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadStateFile, serializeState } from '../../src/state/state-file';
import { StateStore } from '../../src/state/state-store';
import { emptyMounts, type VolumeRecord } from '../../src/state/volume-record';
import { writeFileAtomic } from '../../src/state/atomic-write';

const record = (name: string, mounts: Record<string, number> = {}): VolumeRecord => ({
  name,
  backend: 'local',
  options: {},
  createdAt: '2026-11-26T10:00:00.000Z',
  mounts: Object.assign(emptyMounts(), mounts),
});

describe('state file', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dvs-state-'));
    file = path.join(dir, 'state.json');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('starts empty when there is no file', async () => {
    assert.equal((await loadStateFile(file)).size, 0);
  });

  it('round-trips records, mount IDs included', async () => {
    fs.writeFileSync(file, serializeState([record('aa', { id1: 2 }), record('bb')]));
    const loaded = await loadStateFile(file);
    assert.deepEqual([...loaded.keys()], ['aa', 'bb']);
    assert.equal(loaded.get('aa')?.mounts.id1, 2);
  });

  const refusals: [string, string, RegExp][] = [
    ['truncated JSON', '{"version":1,"volumes":[', /is not valid JSON/],
    ['an unknown version', '{"version":2,"volumes":[]}', /has version 2, but this plugin reads only version 1/],
    ['no version', '{"volumes":[]}', /has version undefined/],
    ['a bad record', '{"version":1,"volumes":[{"name":"x y","backend":"local","options":{},"createdAt":"2026-01-01T00:00:00Z","mounts":{}}]}', /invalid name/],
    ['a negative mount count', '{"version":1,"volumes":[{"name":"xy","backend":"local","options":{},"createdAt":"2026-01-01T00:00:00Z","mounts":{"a":-1}}]}', /mount count/],
    ['a duplicate', `{"version":1,"volumes":[${JSON.stringify(record('xy'))},${JSON.stringify(record('xy'))}]}`, /twice/],
  ];
  for (const [what, text, message] of refusals) {
    it(`refuses ${what}, saying what to do, and leaves the file alone`, async () => {
      fs.writeFileSync(file, text);
      await assert.rejects(loadStateFile(file), (error: Error) => {
        assert.match(error.message, message);
        assert.match(error.message, /It has not been changed/);
        return true;
      });
      assert.equal(fs.readFileSync(file, 'utf8'), text);
    });
  }

  it('writes atomically and leaves no temp file', async () => {
    await writeFileAtomic(file, 'one');
    await writeFileAtomic(file, 'two');
    assert.equal(fs.readFileSync(file, 'utf8'), 'two');
    assert.deepEqual(fs.readdirSync(dir), ['state.json']);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  });

  it('keeps the old content when a write fails', async () => {
    await writeFileAtomic(file, 'old');
    fs.mkdirSync(path.join(dir, '.state.json.' + process.pid + '.tmp'));
    await assert.rejects(writeFileAtomic(file, 'new'));
    assert.equal(fs.readFileSync(file, 'utf8'), 'old');
  });

  it('resolves each save only once its change is on disk, batching bursts', async () => {
    const volumes = new Map<string, VolumeRecord>();
    let snapshots = 0;
    const store = new StateStore(file, () => {
      snapshots += 1;
      return volumes.values();
    });
    await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        volumes.set(`v${i}`, record(`v${i}`));
        await store.save();
        const onDisk = await loadStateFile(file);
        assert.ok(onDisk.has(`v${i}`), `v${i} acknowledged but not on disk`);
      }),
    );
    assert.equal((await loadStateFile(file)).size, 200);
    assert.ok(snapshots <= 10, `200 concurrent saves took ${snapshots} writes`);
  });

  it('reports a failed save as STATE_WRITE and recovers on the next one', async () => {
    const volumes = new Map<string, VolumeRecord>([['aa', record('aa')]]);
    const store = new StateStore(path.join(dir, 'missing-dir', 'state.json'), () => volumes.values());
    await assert.rejects(store.save(), (error: Error & { code?: string }) => error.code === 'STATE_WRITE');
    fs.mkdirSync(path.join(dir, 'missing-dir'));
    await store.save();
    assert.ok((await loadStateFile(path.join(dir, 'missing-dir', 'state.json'))).has('aa'));
  });
});
