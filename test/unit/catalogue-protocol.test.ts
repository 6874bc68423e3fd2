import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LOG_KEEP_SECONDS } from '../../src/backends/sftp/catalogue/store-catalogue';
import { SimulatedHost, STORE_BASE } from '../support/simulated-host';
import { SimulatedStore, type PendingOperation } from '../support/simulated-store';

/**
 * The store catalogue protocol, one scenario at a time, with the real catalogue code over
 * the in-memory SFTP server (the simulation's fake, at the process boundary): the cases of
 * issue 19 that the random schedules of catalogue-simulation.test.ts meet only by chance.
 */
const CATALOGUE = path.posix.join(STORE_BASE, '.docker-volume-sftp');
const TTL = 30;
const OPTIONS = { remove: 'delete' };

class World {
  readonly store = new SimulatedStore();
  readonly trace: string[] = [];
  private ms = 0;

  constructor() {
    this.store.auto = true;
  }

  host(letter: string, more: ConstructorParameters<typeof SimulatedHost>[6] = {}, login = 'user'): SimulatedHost {
    const id = `${letter.charCodeAt(0).toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`;
    return new SimulatedHost({ id, name: `host${letter}` }, login, this.store, TTL, (line) => this.trace.push(line), () => this.ms, more);
  }

  /** Time passes on every clock alike. */
  advance(seconds: number): void {
    this.ms += seconds * 1000;
    this.store.now += seconds;
  }

  /** Runs `work` with requests applied one by one; those `held` wait while any other is pending. */
  async drive<T>(work: Promise<T>, held: (operation: PendingOperation) => boolean): Promise<T> {
    this.store.auto = false;
    let done = false;
    void work.then(
      () => (done = true),
      () => (done = true),
    );
    while (!done) {
      await new Promise((resolve) => setImmediate(resolve));
      const index = this.store.pending.findIndex((operation) => !held(operation));
      const [operation] = this.store.pending.splice(index === -1 ? 0 : index, 1);
      operation?.apply('none');
    }
    this.store.auto = true;
    return work;
  }

  /** Applies whatever is still pending (a call that was held back). */
  async flush(): Promise<void> {
    for (let round = 0; round < 200 && (this.store.pending.length > 0 || round < 3); round += 1) {
      await new Promise((resolve) => setImmediate(resolve));
      this.store.pending.splice(0, 1)[0]?.apply('none');
    }
  }
}

const started = async (...hosts: SimulatedHost[]): Promise<void> => {
  for (const host of hosts) await host.catalogue.renewAll();
};

describe('store catalogue protocol: the cases of issue 19 on a simulated store', () => {
  it('refuses a Create of a name whose Remove on another host is deleting the data, naming that host; the data is never shared (#4)', async () => {
    const world = new World();
    const [a, c] = [world.host('A'), world.host('C')];
    await started(a, c);
    await a.create('app', OPTIONS);
    await a.files.write(path.posix.join(STORE_BASE, 'app', 'old-file'), Buffer.from('old'));
    // A's Remove stops before its tombstone (its record in removing/, its data still there) while C creates the name.
    const removing = a.remove('app');
    const creating = world.drive(
      (async () => {
        while (!world.store.has(path.posix.join(CATALOGUE, 'removing', `app.${a.identity.id}.json`))) await new Promise((resolve) => setImmediate(resolve));
        return c.create('app', OPTIONS);
      })(),
      (operation) => operation.host === 'hostA' && operation.what.includes('/removed/'),
    );
    await assert.rejects(creating, /volume app is being removed by host hostA/);
    await world.flush();
    assert.equal(await removing, 'removed');
    assert.equal(world.store.has(path.posix.join(CATALOGUE, 'volumes', 'app.json')), false, 'no record of C survives');
    assert.equal(world.store.has(path.posix.join(STORE_BASE, 'app')), false, 'no directory of C was made to be deleted under it');
    assert.equal(await c.create('app', OPTIONS), 'published', 'once the Remove is done the name is free');
  });

  it('refuses a Remove while another host has the volume mounted without taking the record off, so it never vanishes elsewhere (#6)', async () => {
    const world = new World();
    const [a, b, c] = [world.host('A'), world.host('B'), world.host('C')];
    await started(a, b, c);
    await a.create('app', OPTIONS);
    await b.mount('app');
    world.store.log.length = 0;
    await assert.rejects(a.remove('app'), /volume app is mounted on hostB \(host ID 00000042/);
    assert.deepEqual(
      world.store.log.filter((line) => line.includes('/volumes/app.json')),
      [],
      'the record was not touched',
    );
    assert.equal((await c.catalogue.findOnStore('app')).entry?.name, 'app');
  });

  it('lets a Remove of app.db hold up nothing of app: removing/ names are matched exactly (#8)', async () => {
    const world = new World();
    const [a, b] = [world.host('A'), world.host('B')];
    await started(a, b);
    await a.create('app.db', OPTIONS);
    // A's Remove of app.db stopped after its take-off.
    await a.files.makeDir(path.posix.join(CATALOGUE, 'removing'));
    await a.files.rename(path.posix.join(CATALOGUE, 'volumes', 'app.db.json'), path.posix.join(CATALOGUE, 'removing', `app.db.${a.identity.id}.json`));
    assert.equal(await b.create('app', OPTIONS), 'published');
    assert.equal(await b.mount('app'), 'mounted');
    await assert.rejects(b.mount('app.db'), /volume app.db is being removed by host hostA/);
  });

  it('counts an unreadable tombstone as a tombstone: a Mount of the removed volume is refused (#8)', async () => {
    const world = new World();
    const [a, b] = [world.host('A'), world.host('B')];
    await started(a, b);
    await a.create('app', OPTIONS);
    const entry = await b.catalogue.findOnStore('app');
    await a.remove('app');
    await a.files.write(path.posix.join(CATALOGUE, 'removed', 'app.json'), Buffer.from('{"truncated'));
    b.local.set('app', entry.entry as NonNullable<typeof entry.entry>);
    await assert.rejects(b.mount('app'), /volume app was removed from the store by host an unknown host/);
  });

  it('takes a missing catalogue directory for an unreachable store: the local copy answers, Status says so, no Mount (#5)', async () => {
    const world = new World();
    const [a, b] = [world.host('A'), world.host('B')];
    await started(a, b);
    await a.create('app', OPTIONS);
    await b.catalogue.refresh();
    assert.ok(b.catalogue.find('app') !== undefined);
    world.store.moveTree(CATALOGUE, `${CATALOGUE}.aside`);
    world.advance(11);
    await b.catalogue.refresh();
    assert.ok(b.catalogue.find('app') !== undefined, 'the volume stays known');
    assert.match(b.catalogue.health() ?? '', /store unreachable .*store catalogue .* is missing/);
    assert.deepEqual(await b.catalogue.findOnStore('logs'), {});
    await assert.rejects(b.mount('app'), /store catalogue is missing on the store/);
    assert.equal(world.store.has(CATALOGUE), false, 'nothing re-made the catalogue meanwhile');
    world.store.moveTree(`${CATALOGUE}.aside`, CATALOGUE);
    world.advance(11);
    await b.catalogue.renewAll();
    await b.catalogue.refresh();
    assert.equal(b.catalogue.health(), undefined);
    assert.equal(await b.mount('app'), 'mounted');
  });

  it('moves the change marker for every host on a store written by several logins (#7)', async () => {
    const world = new World();
    const [a, b] = [world.host('A', {}, 'alice'), world.host('B', {}, 'bob')];
    await started(a, b);
    const stamps = [await b.catalogue.refresh().then(() => world.store.mtime(path.posix.join(CATALOGUE, 'changes')))];
    await a.create('app', OPTIONS);
    stamps.push(world.store.mtime(path.posix.join(CATALOGUE, 'changes')));
    assert.equal(await b.create('logs', OPTIONS), 'published');
    stamps.push(world.store.mtime(path.posix.join(CATALOGUE, 'changes')));
    assert.equal(await b.remove('app'), 'removed');
    stamps.push(world.store.mtime(path.posix.join(CATALOGUE, 'changes')));
    assert.equal(new Set(stamps).size, 4, `every change moved the marker: ${stamps.join(', ')}`);
  });

  it('refuses a second running host with the same host ID, saying what to do; a restart of the same host is no duplicate (#8)', async () => {
    const world = new World();
    const a = world.host('A', { instance: 'first' });
    await started(a);
    await a.create('app', OPTIONS);
    const clone = world.host('A', { instance: 'clone' });
    await clone.catalogue.renewAll();
    assert.match(clone.catalogue.health() ?? '', /another running host uses this host's ID .*delete host-id in its data directory/);
    await assert.rejects(clone.mount('app'), /another running host uses this host's ID/);
    await assert.rejects(clone.create('logs', OPTIONS), /another running host uses this host's ID/);
    const restarted = world.host('A', { instance: 'second', previousInstance: 'first' });
    await restarted.catalogue.renewAll();
    assert.equal(restarted.catalogue.health(), undefined);
  });

  it('fences a host that cannot renew: Status says so after TTL/2, first Mounts are refused, and a Remove elsewhere waits the TTL and a margin (#3)', async () => {
    const world = new World();
    const [a, b] = [world.host('A'), world.host('B')];
    await started(a, b);
    await a.create('app', OPTIONS);
    await a.create('logs', OPTIONS);
    await a.mount('app');
    world.store.fault = (operation) => (operation.host === 'hostA' ? 'before' : 'none');
    world.advance(TTL / 2 + 1);
    await a.catalogue.renewAll();
    assert.match(a.catalogue.health() ?? '', /could not renew its heartbeat on the store for 16 s .*first Mounts are refused/);
    await assert.rejects(a.mount('logs'), /first Mounts are refused until it can/);
    for (const seconds of [0, 10, TTL + 5 - 16 - 11]) {
      world.advance(seconds);
      await assert.rejects(b.remove('app'), /volume app is mounted on hostA/, `refused ${world.store.now} s`);
    }
    world.advance(2);
    assert.equal(await b.remove('app'), 'removed', 'after the TTL and its margin the dead host no longer counts');
  });

  it('renews with one heartbeat per host, whatever the number of mounted volumes (#3)', async () => {
    const world = new World();
    const a = world.host('A');
    await started(a);
    const cost = async (): Promise<number> => {
      world.store.log.length = 0;
      world.advance(10);
      await a.catalogue.renewAll();
      return world.store.log.length;
    };
    await a.create('v0', OPTIONS);
    await a.mount('v0');
    const one = await cost();
    for (let index = 1; index < 40; index += 1) {
      await a.create(`v${index}`, OPTIONS);
      await a.mount(`v${index}`);
    }
    assert.equal(await cost(), one, `requests per renewal with 40 volumes mounted, as with 1 (${one})`);
  });

  it('keeps the store bounded over 1,000 create/remove cycles of distinct names (#9)', async () => {
    const world = new World();
    const [a, b] = [world.host('A', { tombstoneSeconds: 600 }), world.host('B', { tombstoneSeconds: 600 })];
    await started(a, b);
    for (let cycle = 0; cycle < 1000; cycle += 1) {
      const [creator, remover] = cycle % 2 === 0 ? [a, b] : [b, a];
      await creator.create(`v${cycle}`, OPTIONS);
      await creator.mount(`v${cycle}`);
      await creator.unmount(`v${cycle}`);
      await remover.remove(`v${cycle}`);
      world.advance(10);
      if (cycle % 6 === 0) {
        await a.catalogue.renewAll();
        await b.catalogue.renewAll();
        await a.catalogue.repair();
      }
    }
    const all = world.store.below(STORE_BASE).filter((file) => world.store.kind(file) === 'file');
    const log = path.posix.join(CATALOGUE, 'log/');
    const files = all.filter((file) => !file.startsWith(log));
    assert.ok(files.length <= 80, `${files.length} files on the store after 1,000 cycles: ${files.slice(0, 10).join(', ')}`);
    // The change log keeps what LOG_KEEP_SECONDS of changes wrote: here two files per 10 s cycle, cleaned up every 60 s.
    const logged = all.length - files.length;
    assert.ok(logged > 0 && logged <= 2 * Math.ceil((LOG_KEEP_SECONDS + 60) / 10), `${logged} change log files after 1,000 cycles`);
  });
  describe('picking up changes (#9)', () => {
    /** Host B's requests while `work` runs, as "what" lines. */
    const requestsOf = async (world: World, host: SimulatedHost, work: () => Promise<unknown>): Promise<string[]> => {
      world.store.log.length = 0;
      await work();
      return world.store.log.filter((line) => line.startsWith(`${host.identity.name}: `)).map((line) => line.slice(host.identity.name.length + 2));
    };
    const VOLUMES = path.posix.join(CATALOGUE, 'volumes');

    /** What the previous version's Create did: a record (a copy of app's) renamed into place, the marker replaced with 1-10 random characters, no log. */
    const createAsPreviousVersion = async (world: World, name: string): Promise<void> => {
      const raw = world.store.files('user');
      const record = JSON.parse(world.store.text(path.posix.join(VOLUMES, 'app.json')) ?? '{}') as Record<string, unknown>;
      await raw.write(path.posix.join(VOLUMES, `${name}.json`), Buffer.from(JSON.stringify({ ...record, name, createdAt: 'old' })));
      await raw.write(path.posix.join(CATALOGUE, 'changes.tmp'), Buffer.from('k3j\n'));
      await raw.setTimes(path.posix.join(CATALOGUE, 'changes.tmp'), 1_000_000_000 + world.store.log.length);
      await raw.replace(path.posix.join(CATALOGUE, 'changes.tmp'), path.posix.join(CATALOGUE, 'changes'));
    };

    it('reads only the changed name, as many requests with 400 volumes on the store as with 4', async () => {
      const costs: number[] = [];
      for (const count of [4, 400]) {
        const world = new World();
        const [a, b] = [world.host('A'), world.host('B')];
        await started(a, b);
        for (let index = 0; index < count; index += 1) await a.create(`v${index}`, OPTIONS);
        await b.catalogue.refresh();
        assert.equal([...b.catalogue.names()].length, count);
        await a.create('fresh', OPTIONS);
        const created = await requestsOf(world, b, () => b.catalogue.refresh());
        assert.ok(b.catalogue.find('fresh') !== undefined, 'the new volume is known on B');
        assert.deepEqual(created.filter((what) => what === `list ${VOLUMES}`), [], `no listing of every record: ${created.join('; ')}`);
        assert.equal(created.filter((what) => what.startsWith(`read ${VOLUMES}/`)).length, 1, created.join('; '));
        await a.remove('fresh');
        const removed = await requestsOf(world, b, () => b.catalogue.refresh());
        assert.equal(b.catalogue.find('fresh'), undefined, 'the removed volume is gone on B');
        assert.deepEqual(removed.filter((what) => what === `list ${VOLUMES}`), [], removed.join('; '));
        costs.push(created.length + removed.length);
      }
      assert.equal(costs[1], costs[0], `requests to pick up a create and a remove with 4 and 400 volumes: ${costs.join(', ')}`);
    });

    it('reads everything when the marker moved with nothing new in the log (a host of the previous version)', async () => {
      const world = new World();
      const [a, b] = [world.host('A'), world.host('B')];
      await started(a, b);
      await a.create('app', OPTIONS);
      await b.catalogue.refresh();
      await createAsPreviousVersion(world, 'legacy');
      const requests = await requestsOf(world, b, () => b.catalogue.refresh());
      assert.ok(requests.includes(`list ${VOLUMES}`), requests.join('; '));
      assert.equal(b.catalogue.find('legacy')?.createdAt, 'old');
    });

    it('reads everything when a host of the previous version moved the marker last, also after changes in the log', async () => {
      const world = new World();
      const [a, b] = [world.host('A'), world.host('B')];
      await started(a, b);
      await a.create('app', OPTIONS);
      await b.catalogue.refresh();
      await a.create('logs', OPTIONS);
      await createAsPreviousVersion(world, 'legacy');
      await b.catalogue.refresh();
      assert.ok(b.catalogue.find('logs') !== undefined, 'the logged change');
      assert.equal(b.catalogue.find('legacy')?.createdAt, 'old', 'and the unlogged one');
    });

    it('tells of a change whose telling failed at the next refresh of the host that made it', async () => {
      const world = new World();
      const [a, b] = [world.host('A'), world.host('B')];
      await started(a, b);
      await b.catalogue.refresh();
      world.store.fault = (operation) => (operation.host === 'hostA' && operation.what.includes('/log/') ? 'before' : 'none');
      assert.equal(await a.create('app', OPTIONS), 'published');
      world.store.fault = () => 'none';
      await b.catalogue.refresh();
      assert.equal(b.catalogue.find('app'), undefined, 'not told yet: B has no reason to look');
      await a.catalogue.refresh();
      await b.catalogue.refresh();
      assert.ok(b.catalogue.find('app') !== undefined, 'told at A\'s next refresh');
    });

    it('keeps each record\'s listing stamp in the local copy: a restart lists the records and reads none of them', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dvs-cache-'));
      try {
        const world = new World();
        const a = world.host('A');
        const cacheFile = path.join(dir, 'catalogue.json');
        const b = world.host('B', { cacheFile });
        await started(a, b);
        for (let index = 0; index < 50; index += 1) await a.create(`v${index}`, OPTIONS);
        await b.catalogue.refresh();
        const again = world.host('B', { cacheFile, previousInstance: `${b.identity.id}-instance`, instance: 'second' });
        await again.catalogue.load();
        const requests = await requestsOf(world, again, () => again.catalogue.refresh());
        assert.equal([...again.catalogue.names()].length, 50);
        assert.ok(requests.includes(`list ${VOLUMES}`), 'the first refresh after a restart lists everything');
        assert.deepEqual(requests.filter((what) => what.startsWith(`read ${VOLUMES}/`)), [], requests.join('; '));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
