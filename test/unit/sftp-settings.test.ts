import assert from 'node:assert/strict';
import { DefaultStore } from '../../src/backends/sftp/default-store';
import { SFTP_OPTIONS } from '../../src/backends/sftp/sftp-options';
import { resolveSettings } from '../../src/backends/sftp/sftp-settings';
import { cacheOptions, staleForAtMost } from '../../src/backends/sftp/sshfs/sshfs-options';
import { checkOptions } from '../../src/options/schema';

const store = new DefaultStore({ host: 'store.example', port: '2222', user: 'dvs', identity: 'id_store', basePath: '/srv/volumes' });
const settingsOf = (options: Record<string, string>) => resolveSettings({ name: 'vol', options, mountpoint: '/mnt/vol' }, store, '/keys');

describe('the default store: one rule for every use', () => {
  const cases: [string, Record<string, string>, boolean][] = [
    ['no server named', {}, true],
    ['its host', { host: 'store.example' }, true],
    ['its host and port', { host: 'store.example', port: '2222' }, true],
    ['its port written with a leading zero', { port: '02222' }, true],
    ['its host on another port', { host: 'store.example', port: '22' }, false],
    ['another port only', { port: '2200' }, false],
    ['another host', { host: 'other.example', port: '2222' }, false],
  ];
  for (const [what, options, held] of cases) {
    it(`${held ? 'holds' : 'does not hold'} a volume naming ${what}, and settings agree`, () => {
      assert.equal(store.holds(options), held);
      const settings = settingsOf({ user: 'u', ...options });
      // Only volumes on the default store take the plugin's key and base path.
      assert.equal(settings.identityFile, held ? '/keys/id_store' : undefined);
      assert.equal(settings.basePath, held ? '/srv/volumes' : undefined);
    });
  }

  it('has no default store without SFTP_HOST', () => {
    assert.equal(new DefaultStore({}).holds({}), false);
  });

  it('gives the default user only on the default store', () => {
    assert.equal(settingsOf({}).user, 'dvs');
    assert.throws(() => settingsOf({ port: '22' }), /needs a user: add -o user=NAME$/);
  });

  it('refuses bad defaults at start, naming the variable', () => {
    assert.throws(() => new DefaultStore({ host: 'a,b' }), /SFTP_HOST="a,b": commas are not allowed/);
    assert.throws(() => new DefaultStore({ port: '0' }), /SFTP_PORT="0": expected a whole number from 1 to 65535/);
  });
});

describe('SFTP options: checked and parsed by one spec', () => {
  it('parses every accepted value into its typed setting', () => {
    const options = { user: 'u', readonly: 'yes', uid: '1000', umask: '0027', allow_other: 'false', remove: 'delete', connections: '2', cache_timeout: '0.25', keepalive: '9', connect_timeout: '3', compression: '1' };
    checkOptions('sftp', SFTP_OPTIONS, options);
    const s = settingsOf(options);
    assert.deepEqual(
      [s.readonly, s.uid, s.umask, s.allowOther, s.deleteOnRemove, s.connections, s.cacheTimeout, s.keepalive, s.connectTimeoutSeconds, s.compression],
      [true, 1000, 0o027, false, true, 2, 0.25, 9, 3, true],
    );
  });

  it('applies the documented defaults', () => {
    const s = settingsOf({});
    assert.deepEqual([s.port, s.readonly, s.allowOther, s.deleteOnRemove, s.connections, s.cipher, s.cacheTimeout], [2222, false, true, false, 4, 'aes128-gcm@openssh.com', 1]);
  });

  it('refuses a value the check refuses, also when parsing', () => {
    assert.throws(() => checkOptions('sftp', SFTP_OPTIONS, { connections: '17' }), /option connections="17": expected a whole number from 1 to 16/);
    assert.throws(() => settingsOf({ connections: '17' }), /expected a whole number from 1 to 16/);
  });
});

describe('cache_timeout: the caches it renders never add up to more than it', () => {
  // [cache_timeout, ticks of sshfs's clock per second, rendered]
  const cases: [number, number, string[]][] = [
    [0, 1, ['dir_cache=no', 'attr_timeout=0', 'entry_timeout=0']],
    [0.5, 1, ['dir_cache=no', 'attr_timeout=0.5', 'entry_timeout=0.5']],
    [1, 1, ['dir_cache=yes', 'dcache_timeout=0', 'attr_timeout=0', 'entry_timeout=0']],
    [1.5, 1, ['dir_cache=yes', 'dcache_timeout=0', 'attr_timeout=0.5', 'entry_timeout=0.5']],
    [2, 1, ['dir_cache=yes', 'dcache_timeout=0', 'attr_timeout=1', 'entry_timeout=1']],
    [2.7, 1, ['dir_cache=yes', 'dcache_timeout=0', 'attr_timeout=1', 'entry_timeout=1']],
    [20, 1, ['dir_cache=yes', 'dcache_timeout=18', 'attr_timeout=1', 'entry_timeout=1']],
    [0.2, 4, ['dir_cache=no', 'attr_timeout=0.2', 'entry_timeout=0.2']],
    [0.25, 4, ['dir_cache=yes', 'dcache_timeout=0', 'attr_timeout=0', 'entry_timeout=0']],
    [0.5, 4, ['dir_cache=yes', 'dcache_timeout=0', 'attr_timeout=0.25', 'entry_timeout=0.25']],
    [1, 4, ['dir_cache=yes', 'dcache_timeout=1', 'attr_timeout=0.5', 'entry_timeout=0.5']],
    [1.3, 4, ['dir_cache=yes', 'dcache_timeout=1', 'attr_timeout=0.65', 'entry_timeout=0.65']],
    [2, 4, ['dir_cache=yes', 'dcache_timeout=3', 'attr_timeout=1', 'entry_timeout=1']],
    [20, 4, ['dir_cache=yes', 'dcache_timeout=75', 'attr_timeout=1', 'entry_timeout=1']],
    [3600, 4, ['dir_cache=yes', 'dcache_timeout=14395', 'attr_timeout=1', 'entry_timeout=1']],
  ];
  for (const [timeout, ticks, expected] of cases) {
    it(`cache_timeout=${timeout} with ${ticks} tick(s) a second`, () => {
      const rendered = cacheOptions(timeout, ticks);
      assert.deepEqual(rendered, expected);
      // sshfs keeps an entry to the end of the tick after its timeout.
      const value = (key: string): number => Number(rendered.find((o) => o.startsWith(`${key}=`))?.split('=')[1] ?? 'NaN');
      const bound = value('attr_timeout') + (rendered.includes('dir_cache=yes') ? (value('dcache_timeout') + 1) / ticks : 0);
      assert.ok(bound <= timeout + 1e-9, `stale for up to ${bound} s`);
      assert.equal(staleForAtMost(timeout, ticks), Math.round(bound * 1000) / 1000, 'the bound Status shows');
      assert.ok(Number.isInteger(value('dcache_timeout')) || rendered.includes('dir_cache=no'), 'sshfs parses no fractions');
    });
  }
});

describe('the bound Status shows when sshfs runs without the clock library', () => {
  // Options made for quarter-second ticks, read by an sshfs whose ticks are seconds.
  const cases: [number, number][] = [
    [1, 2.5], // dcache_timeout=1: 2 s, plus the kernel's 0.5 s
    [2, 5], // dcache_timeout=3: 4 s, plus 1 s
    [0.2, 0.2], // sshfs's cache off: the kernel's alone
    [20, 77], // dcache_timeout=75: 76 s, plus 1 s
  ];
  for (const [timeout, without] of cases) {
    it(`cache_timeout=${timeout}: ${without} s`, () => {
      assert.equal(staleForAtMost(timeout, 4, 1), without);
      assert.ok(staleForAtMost(timeout, 4) <= timeout);
    });
  }
});

describe('path=: below the base, never the base itself, never the catalogue', () => {
  const noBase = new DefaultStore({ host: 'store.example', user: 'dvs', identity: 'id_store' });
  const onStore = (options: Record<string, string>, at = store) => resolveSettings({ name: 'vol', options, mountpoint: '/mnt/vol' }, at, '/keys').remotePath;
  // Another server: no base path applies, no catalogue of ours is there.
  const elsewhere = (remotePath: string) => onStore({ host: 'other.example', user: 'u', path: remotePath }, noBase);

  it('normalizes trailing slashes and "." parts, so the bind is found as written', () => {
    assert.equal(onStore({ path: '/srv/volumes/x/' }), '/srv/volumes/x');
    assert.equal(onStore({ path: '/srv/volumes//x/./y//' }), '/srv/volumes/x/y');
    assert.equal(onStore({ path: 'x/' }), '/srv/volumes/x');
    assert.equal(onStore({}, new DefaultStore({ host: 'store.example', user: 'dvs', basePath: '/srv/volumes/' })), '/srv/volumes/vol');
    assert.equal(elsewhere('/x/'), '/x');
    assert.equal(elsewhere('data/'), './data');
    assert.equal(elsewhere('.hidden/'), './.hidden');
    assert.equal(onStore({ path: 'data/' }, noBase), './data');
  });

  it('refuses the base path itself, however written, and anything outside it', () => {
    for (const given of ['/srv/volumes', '/srv/volumes/', '/srv/volumes/.', '.', './']) {
      assert.throws(() => onStore({ path: given }), /is the plugin's base path itself/, given);
    }
    assert.throws(() => onStore({ path: '/srv/volumes-other/x' }), /outside the plugin's base path \/srv\/volumes/);
    assert.throws(() => onStore({ path: '/srv' }), /outside the plugin's base path/);
  });

  it("refuses the catalogue's directory and anything in it, on every store and server", () => {
    for (const given of ['.docker-volume-sftp', '.docker-volume-sftp/', '.docker-volume-sftp/volumes', '/srv/volumes/.docker-volume-sftp']) {
      assert.throws(() => onStore({ path: given }), /inside \.docker-volume-sftp, the store catalogue's directory/, given);
      assert.throws(() => onStore({ path: given }, noBase), /inside \.docker-volume-sftp/, given);
    }
    assert.throws(() => elsewhere('/home/u/.docker-volume-sftp/volumes'), /inside \.docker-volume-sftp/);
  });

  it('without a base path, refuses the login directory of the default store (it holds the catalogue) and the root', () => {
    for (const given of ['.', './', './/']) assert.throws(() => onStore({ path: given }, noBase), /is the login directory itself/, given);
    assert.throws(() => onStore({ path: '/' }, noBase), /the server's root directory/);
    assert.equal(onStore({ path: '/data/x' }, noBase), '/data/x');
    assert.equal(onStore({}, noBase), './vol');
  });
});
