import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { processesOf, sftpOptions } from '../support/sftp-fixtures';
import { withSshdAndDaemon } from '../support/sshd-and-daemon';

const CANARY = '/tmp/dvs-pwned';

// Values built to run a program, escape a directory or smuggle an option, in every form
// a shell, sshfs's comma-split -o, ssh's option parser or a path join would honour.
const PAYLOADS = [
  `$(touch ${CANARY})`,
  `\`touch ${CANARY}\``,
  `;touch ${CANARY}`,
  `|touch ${CANARY}`,
  `&& touch ${CANARY}`,
  `x\ntouch ${CANARY}`,
  `x\rProxyCommand=touch ${CANARY}`,
  `-oProxyCommand=touch ${CANARY}`,
  `-F${CANARY}`,
  `x,ssh_command=touch ${CANARY}`,
  `1,ssh_command=touch ${CANARY}`,
  `x ProxyCommand touch ${CANARY}`,
  'x\0y',
  `../../../../..${CANARY}`,
  '../..',
  'a/../../b',
  `x'";touch ${CANARY}`,
  '${IFS}touch${IFS}/tmp/dvs-pwned',
];
const FIELDS = ['host', 'user', 'port', 'path', 'identity', 'password_file', 'hostkey', 'uid', 'gid', 'umask', 'cipher', 'connections', 'cache_timeout', 'keepalive', 'remove', 'readonly', 'allow_other', 'compression', 'backend'];
// For path, characters that are legal in a file name are not an attack by themselves;
// only traversal, commas, dashes and control characters are.
const LEGAL_FOR_PATH = (value: string): boolean => /^[A-Za-z0-9_.~@+=/-]+$/.test(value) && !/(^|\/)\.\.(\/|$)/.test(value) && !value.startsWith('-');

const PROGRAM_OPTIONS = ['ssh_command', 'SSH_COMMAND', 'sftp_server', 'directport', 'ProxyCommand', 'proxycommand', 'PROXYCOMMAND', 'ProxyJump', 'LocalCommand', 'PermitLocalCommand', 'PKCS11Provider', 'SecurityKeyProvider', 'KnownHostsCommand', 'ControlPath', 'ControlMaster', 'IdentityAgent', '-F', '-f', 'StrictHostKeyChecking', 'UserKnownHostsFile', 'IdentityFile', 'password'];

const BAD_NAMES = ['..', '.', '../x', 'x/..', '/etc', 'a/b', '-rf', '.hidden', 'a\0b', 'a b', '$(id)', '`id`', 'x;id', 'x\nid', 'a'.repeat(201)];

describe('injection corpus: every attempt refused, with no side effect', function () {
  this.timeout(10 * 60_000);
  before(() => fs.rmSync(CANARY, { force: true }));
  const fixture = withSshdAndDaemon({ prefix: 'dvs-inject', env: { LOG_LEVEL: 'error' } });

  it(`refuses ${PAYLOADS.length * FIELDS.length + PROGRAM_OPTIONS.length + BAD_NAMES.length * 2} crafted requests without creating a file, spawning a process or logging in`, async () => {
    const { sshd, daemon } = fixture;
    const sshfsBefore = processesOf('sshfs').length;
    const sshLogBefore = sshd.log().length;
    let tried = 0;
    const refuse = async (name: string, opts: Record<string, string>, what: string): Promise<void> => {
      tried += 1;
      const reply = await daemon.client.call('/VolumeDriver.Create', { Name: name, Opts: opts });
      assert.ok(typeof reply.body.Err === 'string' && reply.body.Err !== '', `accepted: ${what}`);
    };
    for (const field of FIELDS) {
      for (const payload of PAYLOADS) {
        if (field === 'path' && LEGAL_FOR_PATH(payload)) continue;
        await refuse('victim', { ...sftpOptions(sshd, 'victim'), [field]: payload }, `${field}=${JSON.stringify(payload)}`);
      }
    }
    for (const option of PROGRAM_OPTIONS) await refuse('victim', { ...sftpOptions(sshd, 'victim'), [option]: `touch ${CANARY}` }, option);
    for (const name of BAD_NAMES) {
      await refuse(name, {}, `local volume named ${JSON.stringify(name)}`);
      await refuse(name, sftpOptions(sshd, 'victim'), `SFTP volume named ${JSON.stringify(name)}`);
      for (const call of ['/VolumeDriver.Mount', '/VolumeDriver.Remove', '/VolumeDriver.Path', '/VolumeDriver.Get']) {
        const reply = await daemon.client.call(call, { Name: name, ID: 'x' });
        assert.ok(reply.body.Err !== '', `${call} accepted ${JSON.stringify(name)}`);
      }
    }

    assert.equal(fs.existsSync(CANARY), false, 'a payload ran');
    assert.deepEqual(await daemon.client.list(), []);
    const data = daemon.dirs.dataDir;
    assert.deepEqual(fs.readdirSync(data).sort(), ['keys', 'state.jsonl'].filter((f) => fs.existsSync(path.join(data, f))).sort(), `stray files in the data dir: ${fs.readdirSync(data).join(', ')}`);
    assert.deepEqual(fs.existsSync(daemon.dirs.mountRoot) ? fs.readdirSync(daemon.dirs.mountRoot) : [], []);
    assert.equal(fs.existsSync(sshd.serverPath('victim')), false);
    assert.deepEqual(fs.readdirSync(daemon.dirs.base).sort(), ['data', 'mnt', 'p.sock'].filter((f) => fs.existsSync(path.join(daemon.dirs.base, f))).sort());
    assert.equal(processesOf('sshfs').length, sshfsBefore, 'an sshfs was spawned');
    assert.ok(!sshd.log().slice(sshLogBefore).includes('Accepted'), 'the daemon logged in to the server');
    console.log(`      ${tried} Creates and ${BAD_NAMES.length * 4} other calls refused`);
  });
});
