import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CatalogueEntry } from '../../src/backends/backend';
import { FakeBackend } from '../support/fake-backend';
import { FakeCatalogue } from '../support/fake-catalogue';
import { RecordingLogger } from '../support/recording-logger';
import { serviceOnDisk, type ServiceOnDisk } from '../support/service-on-disk';

/** An entry another host put on the store first. */
const otherHostsEntry = (options: Record<string, string>): CatalogueEntry => ({
  name: 'vol',
  options,
  createdAt: '2026-01-02T03:04:05.000Z',
  createdBy: { id: 'id-of-another-host', name: 'another-host' },
});

const isSaveFailure = (error: Error & { code?: string }): boolean => error.code === 'STATE_WRITE';

/**
 * The undo paths of Create, Remove and Mount: a real VolumeService, VolumeTable and
 * StateJournal on a temporary directory, over a fake backend and a fake shared catalogue
 * that note every call in one list, in order.
 */
describe('volume service: what a failed Create, Remove or Mount undoes (in process)', () => {
  let dir: string;
  let events: string[];
  let log: RecordingLogger;
  let catalogue: FakeCatalogue;
  let backend: FakeBackend;
  let host: ServiceOnDisk;

  const start = async (shared: boolean): Promise<void> => {
    backend = new FakeBackend(events, shared ? catalogue : undefined);
    host = await serviceOnDisk(dir, [backend], log);
  };

  /** A shared volume "vol", made before the test: its calls are not in the events. */
  const startWithVolume = async (): Promise<void> => {
    await start(true);
    await host.service.create('vol', { size: '1' });
    events.length = 0;
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dvs-service-'));
    events = [];
    log = new RecordingLogger();
    catalogue = new FakeCatalogue(events);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('create', () => {
    it('makes nothing when publishing to the store fails (the record comes first), and throws that failure', async () => {
      await start(true);
      catalogue.failing.add('publish');
      await assert.rejects(host.service.create('vol', { size: '1' }), /fake catalogue: publish failed/);
      assert.deepEqual(events, ['catalogue publish vol failed']);
      assert.equal(host.table.get('vol'), undefined);
      assert.equal((await host.saved()).has('vol'), false);
    });

    it('makes nothing on the server when another host won the name with other options, and takes its definition', async () => {
      await start(true);
      catalogue.holder = otherHostsEntry({ size: '2' });
      await host.service.create('vol', { size: '1' });
      assert.deepEqual(events, ['catalogue publish vol']);
      const saved = (await host.saved()).get('vol');
      assert.deepEqual(saved?.options, { size: '2' });
      assert.deepEqual(saved?.ignoredOptions, { size: '1' });
      assert.equal(saved?.createdAt, '2026-01-02T03:04:05.000Z');
      assert.match(log.at('warn')[0]?.msg ?? '', /create options differ from the store catalogue/);
    });

    it('takes the creation time of another host that won the name with the same options', async () => {
      await start(true);
      catalogue.holder = otherHostsEntry({ size: '1' });
      await host.service.create('vol', { size: '1' });
      assert.deepEqual(events, ['catalogue publish vol', 'backend create vol']);
      const saved = (await host.saved()).get('vol');
      assert.deepEqual([saved?.options, saved?.createdAt, saved?.ignoredOptions], [{ size: '1' }, '2026-01-02T03:04:05.000Z', undefined]);
    });

    it("leaves another host's entry on the store when the save fails after it won with the same options", async () => {
      await start(true);
      catalogue.holder = otherHostsEntry({ size: '1' });
      host.breakDataDir();
      await assert.rejects(host.service.create('vol', { size: '1' }), isSaveFailure);
      assert.deepEqual(events, ['catalogue publish vol', 'backend create vol', 'backend undo vol']);
      assert.equal(host.table.get('vol'), undefined);
    });

    it('takes its entry off the store, then undoes the backend create, when the save fails after this host published', async () => {
      await start(true);
      host.breakDataDir();
      await assert.rejects(host.service.create('vol', { size: '1' }), isSaveFailure);
      assert.deepEqual(events, ['catalogue publish vol', 'backend create vol', 'catalogue unpublish vol', 'backend undo vol']);
      assert.equal(catalogue.find('vol'), undefined);
      assert.equal(host.table.get('vol'), undefined);
      assert.deepEqual(host.service.list(), []);
    });

    it('undoes the backend create when the save fails, with no store', async () => {
      await start(false);
      host.breakDataDir();
      await assert.rejects(host.service.create('vol', { size: '1' }), /could not save the plugin state/);
      assert.deepEqual(events, ['backend create vol', 'backend undo vol']);
      assert.equal(host.table.get('vol'), undefined);
    });

    it('takes its record back when the backend create fails after this host published', async () => {
      await start(true);
      backend.failing.add('create');
      await assert.rejects(host.service.create('vol', { size: '1' }), /fake backend: create failed/);
      assert.deepEqual(events, ['catalogue publish vol', 'backend create vol failed', 'catalogue unpublish vol']);
      assert.equal(catalogue.find('vol'), undefined);
    });

    it('says the record is left without its directory, and what to do, when neither the backend create nor the take-back works', async () => {
      await start(true);
      backend.failing.add('create');
      catalogue.failing.add('unpublish');
      await assert.rejects(host.service.create('vol', { size: '1' }), /fake backend: create failed; the volume's record is left on the store without its directory .*: run docker volume rm vol, then create it again/);
      assert.deepEqual(events, ['catalogue publish vol', 'backend create vol failed', 'catalogue unpublish vol failed']);
    });

    it('logs a failed take-back in the undo of a save and still throws the save failure', async () => {
      await start(true);
      catalogue.failing.add('unpublish');
      host.breakDataDir();
      await assert.rejects(host.service.create('vol', { size: '1' }), isSaveFailure);
      assert.deepEqual(events, ['catalogue publish vol', 'backend create vol', 'catalogue unpublish vol failed']);
      assert.deepEqual(log.at('error').map((line) => [line.msg, line.fields.error]), [['could not undo a failed create', 'fake catalogue: unpublish failed']]);
    });
  });

  describe('remove', () => {
    beforeEach(() => startWithVolume());

    it('puts the volume back on the store when the backend cannot remove it, and keeps the record', async () => {
      backend.failing.add('remove');
      await assert.rejects(host.service.remove('vol'), /fake backend: remove failed/);
      assert.deepEqual(events, ['catalogue withdraw vol', 'backend remove vol failed', 'catalogue put back vol']);
      assert.ok(host.table.get('vol') !== undefined);
      assert.ok((await host.saved()).has('vol'));
    });

    it('logs a failed put-back and throws the backend failure', async () => {
      backend.failing.add('remove');
      catalogue.failing.add('put back');
      await assert.rejects(host.service.remove('vol'), /fake backend: remove failed/);
      assert.deepEqual(events, ['catalogue withdraw vol', 'backend remove vol failed', 'catalogue put back vol failed']);
      assert.deepEqual(log.at('error').map((line) => [line.msg, line.fields.volume, line.fields.error]), [
        ['could not put the volume back on the store', 'vol', 'fake catalogue: put back failed'],
      ]);
      assert.ok((await host.saved()).has('vol'));
    });

    it('never puts back a withdrawal past its commit point: the error says the store has it removed and to run Remove again', async () => {
      backend.failing.add('remove');
      catalogue.withdrawalsCommitted = true;
      await assert.rejects(host.service.remove('vol'), /volume vol is removed from the store catalogue, but removing it here failed: fake backend: remove failed; run docker volume rm vol again on this host to finish/);
      assert.ok((await host.saved()).has('vol'));
    });

    it('commits the withdrawal while the record is still saved, then deletes the record', async () => {
      catalogue.onCommit = () => events.push(`record saved at commit: ${host.table.has('vol')}`);
      await host.service.remove('vol');
      assert.deepEqual(events, ['catalogue withdraw vol', 'backend remove vol', 'catalogue commit vol', 'record saved at commit: true']);
      assert.equal(host.table.get('vol'), undefined);
      assert.equal((await host.saved()).has('vol'), false);
    });
  });

  describe('mount', () => {
    beforeEach(() => startWithVolume());

    it('drops the lease and unmounts when the first Mount fails in the backend', async () => {
      backend.failing.add('mount');
      await assert.rejects(host.service.mount('vol', 'c1'), /fake backend: mount failed/);
      assert.deepEqual(events, ['catalogue hold vol', 'backend mount vol failed', 'catalogue release vol', 'backend unmount vol']);
      assert.deepEqual({ ...host.table.get('vol')?.mounts }, {});
    });

    it('drops the lease and unmounts when the first Mount cannot be saved', async () => {
      host.breakDataDir();
      await assert.rejects(host.service.mount('vol', 'c1'), /could not save the plugin state/);
      assert.deepEqual(events, ['catalogue hold vol', 'backend mount vol', 'catalogue release vol', 'backend unmount vol']);
      assert.deepEqual({ ...host.table.get('vol')?.mounts }, {});
    });

    it('keeps the lease and the mount of the IDs that hold it when a later Mount fails', async () => {
      await host.service.mount('vol', 'c1');
      backend.failing.add('mount');
      await assert.rejects(host.service.mount('vol', 'c2'), /fake backend: mount failed/);
      assert.deepEqual(events, ['catalogue hold vol', 'backend mount vol', 'backend mount vol failed']);
      assert.deepEqual({ ...(await host.saved()).get('vol')?.mounts }, { c1: 1 });
    });
  });

  // The engine waits 2 minutes for a Mount, then never sends its Unmount: a mount ID saved
  // after that would be remounted at every start and its lease renewed for good.
  describe('a Mount that ends after the engine gave up', () => {
    const DEADLINE_MS = 120_000;
    let now: number;

    beforeEach(async () => {
      now = 0;
      backend = new FakeBackend(events, catalogue);
      host = await serviceOnDisk(dir, [backend], log, { mountDeadlineMs: DEADLINE_MS, now: () => now });
      await host.service.create('vol', { size: '1' });
      events.length = 0;
    });

    it('is undone and not journaled when it was the first: lease dropped, backend unmounted', async () => {
      backend.duringMount = () => (now += DEADLINE_MS + 1);
      await assert.rejects(host.service.mount('vol', 'late'), /longer than Docker waits for a Mount \(120 s here\), so it was undone/);
      assert.deepEqual(events, ['catalogue hold vol', 'backend mount vol', 'catalogue release vol', 'backend unmount vol']);
      assert.deepEqual({ ...host.table.get('vol')?.mounts }, {});
      assert.deepEqual({ ...(await host.saved()).get('vol')?.mounts }, {});
    });

    it('keeps the mount of the IDs that hold it, and does not journal the late ID', async () => {
      await host.service.mount('vol', 'c1');
      events.length = 0;
      backend.duringMount = () => (now += DEADLINE_MS + 1);
      await assert.rejects(host.service.mount('vol', 'late'), /longer than Docker waits/);
      assert.deepEqual(events, ['backend mount vol']);
      assert.deepEqual({ ...(await host.saved()).get('vol')?.mounts }, { c1: 1 });
    });

    it('does not start a Mount whose deadline passed while it waited behind another', async () => {
      backend.duringMount = () => (now = DEADLINE_MS + 20);
      const slow = host.service.mount('vol', 'slow'); // sent at 0
      now = 10;
      const queued = host.service.mount('vol', 'queued'); // sent at 10, its turn comes at DEADLINE_MS + 20
      await assert.rejects(slow, /longer than Docker waits/);
      await assert.rejects(queued, /longer than Docker waits for a Mount \(120 s here\), so it was not started/);
      assert.deepEqual(events, ['catalogue hold vol', 'backend mount vol', 'catalogue release vol', 'backend unmount vol']);
      assert.deepEqual({ ...(await host.saved()).get('vol')?.mounts }, {});
    });
  });
});
