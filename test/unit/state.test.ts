import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { headerLine, putLine, readStateFile, snapshotText } from '../../src/state/state-file';
import { StateJournal } from '../../src/state/state-journal';
import { emptyMounts, type VolumeRecord } from '../../src/state/volume-record';
import { writeFileAtomic } from '../../src/system/atomic-write';
import { BACKEND_KINDS, readVolumes } from '../support/state';

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
    file = path.join(dir, 'state.jsonl');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('starts empty when there is no file', async () => {
    assert.equal((await readVolumes(file)).size, 0);
  });

  it('replays puts and deletes in order, mount IDs included', async () => {
    fs.writeFileSync(file, snapshotText([record('aa', { id1: 2 }), record('bb')]) + putLine(record('cc')) + '{"delete":"bb"}\n' + putLine(record('aa', { id2: 1 })));
    const loaded = await readVolumes(file);
    assert.deepEqual([...loaded.keys()], ['aa', 'cc']);
    assert.deepEqual({ ...loaded.get('aa')?.mounts }, { id2: 1 });
  });

  it('drops a torn last line (a change cut off before its fsync) and keeps the rest', async () => {
    fs.writeFileSync(file, snapshotText([record('aa')]) + putLine(record('bb')).slice(0, 30));
    const loaded = await readStateFile(file, BACKEND_KINDS);
    assert.deepEqual([...loaded.volumes.keys()], ['aa']);
    assert.equal(loaded.tornTailBytes, 30);
  });

  const refusals: [string, string, RegExp][] = [
    ['a broken line in the middle', `${headerLine()}{"put":\n${putLine(record('aa'))}`, /line 2 is not JSON/],
    ['an unknown version', '{"format":"docker-volume-sftp-state","version":2}\n', /has version 2, but this plugin reads only version 1/],
    ['a file of another program', '{"volumes":[]}\n', /is not a docker-volume-sftp state file/],
    ['a bad record', `${headerLine()}{"put":{"name":"x y","backend":"local","options":{},"createdAt":"2026-01-01T00:00:00Z","mounts":{}}}\n`, /invalid name/],
    ['a negative mount count', `${headerLine()}{"put":{"name":"xy","backend":"local","options":{},"createdAt":"2026-01-01T00:00:00Z","mounts":{"a":-1}}}\n`, /mount count/],
    ['a volume of a backend this plugin lacks', `${headerLine()}{"put":{"name":"xy","backend":"nfs","options":{},"createdAt":"2026-01-01T00:00:00Z","mounts":{}}}\n`, /unknown backend "nfs"/],
    ['an unknown change', `${headerLine()}{"rename":"xy"}\n`, /neither a put nor a delete/],
  ];
  for (const [what, text, message] of refusals) {
    it(`refuses ${what}, saying what to do, and leaves the file alone`, async () => {
      fs.writeFileSync(file, text);
      await assert.rejects(readVolumes(file), (error: Error) => {
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
    assert.deepEqual(fs.readdirSync(dir), ['state.jsonl']);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  });

  it('keeps the old content when an atomic write fails', async () => {
    await writeFileAtomic(file, 'old');
    fs.mkdirSync(path.join(dir, `.state.jsonl.${process.pid}.tmp`));
    await assert.rejects(writeFileAtomic(file, 'new'));
    assert.equal(fs.readFileSync(file, 'utf8'), 'old');
  });

  it('resolves each change only once it is on disk, batching bursts into few writes', async () => {
    const volumes = new Map<string, VolumeRecord>();
    const journal = StateJournal.open(file, () => volumes.values(), await readStateFile(file, BACKEND_KINDS));
    // Changes written together are acknowledged together, so they see the file at one size;
    // written one by one, each would see a size of its own.
    const sizesAtAcknowledgement = new Set<number>();
    await Promise.all(
      Array.from({ length: 300 }, async (_, i) => {
        const r = record(`v${i}`);
        volumes.set(r.name, r);
        await journal.put(r);
        sizesAtAcknowledgement.add(fs.statSync(file).size);
        assert.ok((await readVolumes(file)).has(`v${i}`), `v${i} acknowledged but not on disk`);
      }),
    );
    assert.ok(sizesAtAcknowledgement.size <= 3, `300 changes acknowledged at ${sizesAtAcknowledgement.size} sizes of the file: written in that many batches`);
    await Promise.all([...volumes.keys()].slice(0, 100).map((name) => (volumes.delete(name), journal.remove(name))));
    await journal.close();
    assert.equal((await readVolumes(file)).size, 200);
  });

  it('compacts: the file stays near the size of a snapshot however many changes are made', async () => {
    const volumes = new Map<string, VolumeRecord>([['aa', record('aa')]]);
    const journal = StateJournal.open(file, () => volumes.values(), await readStateFile(file, BACKEND_KINDS));
    for (let i = 0; i < 3000; i += 1) {
      const r = record('aa', { [`id${i % 7}`]: 1 + (i % 3) });
      volumes.set('aa', r);
      await journal.put(r);
    }
    await journal.close();
    assert.ok(fs.statSync(file).size < 600 * 1024, `state file grew to ${fs.statSync(file).size} bytes`);
    assert.deepEqual({ ...(await readVolumes(file)).get('aa')?.mounts }, { ...volumes.get('aa')?.mounts });
  });

  it('reports a failed write as STATE_WRITE, keeps the file whole, and recovers from memory', async () => {
    const volumes = new Map<string, VolumeRecord>([['aa', record('aa')]]);
    const missing = path.join(dir, 'missing-dir', 'state.jsonl');
    const journal = StateJournal.open(missing, () => volumes.values(), await readStateFile(missing, BACKEND_KINDS));
    await assert.rejects(journal.put(record('aa')), (error: Error & { code?: string }) => error.code === 'STATE_WRITE');
    fs.mkdirSync(path.join(dir, 'missing-dir'));
    volumes.set('bb', record('bb'));
    await journal.put(record('bb'));
    assert.deepEqual([...(await readVolumes(missing)).keys()], ['aa', 'bb']);
    await journal.close();
  });
});
