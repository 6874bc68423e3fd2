import assert from 'node:assert/strict';
import type { CatalogueEntry } from '../../src/backends/backend';
import { parseHost, parseTombstone } from '../../src/backends/sftp/catalogue/catalogue-records';
import { checkStoreRecord, RecordGate } from '../../src/backends/sftp/catalogue/record-checks';
import { DefaultStore } from '../../src/backends/sftp/default-store';
import { RecordingLogger } from '../support/recording-logger';

const store = new DefaultStore({ host: 'store.example', port: '2222', user: 'dvs', identity: 'id_store', basePath: '/srv/volumes', hostkey: `SHA256:${'A'.repeat(43)}` });
const HOST = { id: '0f6b1a52-3c8d-4e2f-9a71-5b2d8c4e6f10', name: 'host-a' };
const record = (options: Record<string, string>, more: Partial<CatalogueEntry> = {}): CatalogueEntry => ({ name: 'vol', options, createdAt: '2026-12-03T10:00:00.000Z', createdBy: HOST, ...more });
const check = (entry: CatalogueEntry) => checkStoreRecord(entry, store, '/keys');

describe('records read from the store pass the checks of a Create, and name this store', () => {
  it('accepts what a host of this store publishes', () => {
    check(record({}));
    check(record({ host: 'store.example', port: '2222', user: 'dvs', hostkey: `SHA256:${'A'.repeat(43)}`, path: '/srv/volumes/vol/', readonly: 'true', remove: 'delete' }));
  });

  const refused: [string, CatalogueEntry, RegExp][] = [
    ['another server, with a password file', record({ host: '127.0.0.1', port: '2200', password_file: 'id_probe', connections: '1' }), /names another server \(127\.0\.0\.1:2200\), not this store \(store\.example:2222\)/],
    ['this host on another port', record({ port: '22' }), /names another server/],
    ['another login', record({ user: 'root' }), /another login \(user=root\)/],
    ['a made-up host key', record({ hostkey: `SHA256:${'B'.repeat(43)}` }), /another host key/],
    ['remove=delete with a path elsewhere', record({ remove: 'delete', path: '/home' }), /outside the plugin's base path/],
    ['the base path itself', record({ path: '/srv/volumes' }), /base path itself/],
    ['the catalogue', record({ path: '.docker-volume-sftp', remove: 'delete' }), /inside \.docker-volume-sftp/],
    ['a refused option', record({ ProxyCommand: 'touch /tmp/x' }), /option "ProxyCommand" is refused/],
    ['an unknown option', record({ debug: '1' }), /unknown option "debug"/],
    ['a bad value', record({ uid: '0,ssh_command=x' }), /commas are not allowed/],
    ['another backend', record({ backend: 'local' }), /option backend="local"/],
    ['a name Create refuses', record({}, { name: '..' }), /invalid volume name/],
    ['control characters in the host name', record({}, { createdBy: { id: HOST.id, name: 'host\u001b[31m\nb' } }), /createdBy is not a host identity/],
    ['a host ID this plugin never makes', record({}, { createdBy: { id: '../../x', name: 'b' } }), /createdBy is not a host identity/],
    ['a time the engine cannot read', record({}, { createdAt: 'yesterday\n' }), /createdAt is not a time/],
  ];
  for (const [what, entry, reason] of refused) {
    it(`refuses ${what}`, () => assert.throws(() => check(entry), reason));
  }
});

describe('RecordGate: a bad record is ignored with one warning per version of its file', () => {
  const good = JSON.stringify(record({}));
  const foreign = JSON.stringify(record({ host: 'evil.example' }));

  it('admits a good record and warns once per version of a bad one', () => {
    const log = new RecordingLogger();
    const gate = new RecordGate(check, log);
    assert.equal(gate.admit('s/volumes/vol.json', 'vol', good)?.name, 'vol');
    for (let i = 0; i < 3; i += 1) assert.equal(gate.admit('s/volumes/vol.json', 'vol', foreign, '1:10'), undefined);
    assert.equal(gate.refusedBefore('s/volumes/vol.json', '1:10'), true);
    assert.deepEqual(log.at('warn').map((line) => [line.msg, line.fields.file]), [['store record ignored', 's/volumes/vol.json']]);
    assert.match(String(log.at('warn')[0]?.fields.reason), /names another server \(evil\.example:2222\)/);
    // A new version of the file: warned again.
    assert.equal(gate.admit('s/volumes/vol.json', 'vol', foreign.replace('evil', 'evil2'), '2:11'), undefined);
    assert.equal(gate.admit('s/volumes/vol.json', 'vol', '{not json'), undefined);
    assert.equal(log.at('warn').length, 3);
    assert.match(String(log.at('warn')[2]?.fields.reason), /not a volume record/);
  });

  it('refuses names from file names that are not volume names, once', () => {
    const log = new RecordingLogger();
    const gate = new RecordGate(check, log);
    assert.equal(gate.nameOf('s/volumes/...json', '...json', '1:2'), undefined);
    assert.equal(gate.nameOf('s/volumes/...json', '...json', '1:2'), undefined);
    assert.equal(gate.nameOf('s/volumes/ok-name.json', 'ok-name.json', '1:2'), 'ok-name');
    assert.equal(log.at('warn').length, 1);
    assert.match(String(log.at('warn')[0]?.fields.reason), /file name does not give a volume name/);
  });
});

describe('hosts named by leases and tombstones reach messages printable', () => {
  it('replaces control characters in host names and times', () => {
    assert.deepEqual(parseHost(JSON.stringify({ id: 'x\ny', name: 'a\u001b[2Jb' })), { id: 'x_y', name: 'a__2Jb' });
    const tombstone = parseTombstone(JSON.stringify({ name: 'vol', removedBy: { id: HOST.id, name: 'h\r' }, removedAt: '\u001b[31mnow' }), 'vol');
    assert.deepEqual(tombstone, { name: 'vol', removedBy: { id: HOST.id, name: 'h_' }, removedAt: 'an unknown time' });
  });
});
