import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config';
import { PluginError } from '../../src/errors';
import { checkOptions } from '../../src/options/schema';
import { fileMode, fileName, integer, oneOf } from '../../src/options/values';
import { checkVolumeName, MAX_NAME_LENGTH } from '../../src/common/volume-name';
import { parseMountinfo } from '../../src/system/mountinfo';
import { pathUnder } from '../../src/system/paths';
import { KeyedMutex } from '../../src/common/keyed-mutex';

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof PluginError, `expected a PluginError, got ${String(error)}`);
    return error.code;
  }
  throw new Error('expected a throw');
};

describe('volume names', () => {
  it('accepts the local driver\'s names', () => {
    for (const name of ['ab', 'a1', 'data_01', 'my.vol-2', '0x', 'A'.repeat(MAX_NAME_LENGTH)]) assert.equal(checkVolumeName(name), name);
  });
  it('refuses everything else before any file-system call', () => {
    for (const name of ['', 'a', '.a', '..', '-a', '_a', 'a/b', '../x', 'a b', 'a\0b', 'é1', 'a'.repeat(MAX_NAME_LENGTH + 1), 42, null, {}]) {
      assert.equal(code(() => checkVolumeName(name)), 'BAD_NAME', JSON.stringify(name));
    }
  });
});

describe('paths', () => {
  it('keeps joined paths under their root', () => {
    assert.equal(pathUnder('/r', 'a'), '/r/a');
    assert.equal(code(() => pathUnder('/r', '..', 'x')), 'BAD_NAME');
    assert.equal(code(() => pathUnder('/r', '/etc')), 'BAD_NAME');
    assert.equal(code(() => pathUnder('/r', 'a/../../r2')), 'BAD_NAME');
  });
});

describe('option allowlist', () => {
  const schema = { uid: integer(0, 10), mode: fileMode, kind: oneOf('x', 'y'), key: fileName };
  it('accepts known options with good values', () => {
    checkOptions('test', schema, { uid: '7', mode: '0750', kind: 'y', key: 'id_ed25519' });
  });
  it('names an unknown option and lists the accepted ones', () => {
    assert.throws(() => checkOptions('test', schema, { colour: 'red' }), /unknown option "colour" for a test volume; accepted options: key, kind, mode, uid/);
  });
  it('refuses bad values, naming the option', () => {
    assert.throws(() => checkOptions('test', schema, { uid: '11' }), /option uid="11": expected a whole number from 0 to 10/);
    assert.throws(() => checkOptions('test', schema, { uid: '-1' }), /option uid/);
    assert.throws(() => checkOptions('test', schema, { mode: '999' }), /octal mode/);
    assert.throws(() => checkOptions('test', schema, { key: '../etc/shadow' }), /plain file name/);
    assert.throws(() => checkOptions('test', schema, { key: '.hidden' }), /plain file name/);
  });
  it('refuses listed options by name with their reason, whatever the case', () => {
    assert.throws(() => checkOptions('test', schema, { SSH_Command: 'x' }, { ssh_command: 'it runs a program' }), /option "SSH_Command" is refused: it runs a program/);
  });
  it('is not fooled by prototype keys', () => {
    assert.throws(() => checkOptions('test', schema, JSON.parse('{"__proto__":"x"}') as Record<string, string>), /unknown option "__proto__"/);
    assert.throws(() => checkOptions('test', schema, { toString: 'x' }), /unknown option "toString"/);
  });
});

describe('configuration', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({});
    assert.equal(config.socketPath, '/run/docker/plugins/sftp.sock');
    assert.equal(config.dataDir, '/var/lib/docker-volume-sftp');
    assert.equal(config.mountRoot, '/mnt/volumes');
    assert.equal(config.logLevel, 'info');
    assert.deepEqual([config.leaseTtlSeconds, config.catalogueRefreshSeconds, config.sftpIdleUnmountSeconds], [30, 300, 10]);
    assert.equal(loadConfig({ SFTP_IDLE_UNMOUNT: '0' }).sftpIdleUnmountSeconds, 0);
  });
  it('names the variable that is wrong', () => {
    assert.throws(() => loadConfig({ PLUGIN_SOCKET: 'relative.sock' }), /PLUGIN_SOCKET must be an absolute path/);
    assert.throws(() => loadConfig({ PLUGIN_SOCKET: `/${'s'.repeat(120)}` }), /PLUGIN_SOCKET is longer than 107 bytes/);
    assert.throws(() => loadConfig({ PLUGIN_DATA_DIR: '/' }), /PLUGIN_DATA_DIR must not be the root/);
    assert.throws(() => loadConfig({ PLUGIN_MOUNT_ROOT: '' }), /PLUGIN_MOUNT_ROOT must be an absolute path/);
    assert.throws(() => loadConfig({ LOG_LEVEL: 'loud' }), /LOG_LEVEL must be one of debug, info, warn, error/);
    assert.throws(() => loadConfig({ SFTP_IDLE_UNMOUNT: '1.5' }), /SFTP_IDLE_UNMOUNT must be a whole number of seconds from 0 to 3600/);
  });
});

describe('mountinfo parsing', () => {
  it('reads mount points and unescapes them', () => {
    const text = [
      '36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue',
      '44 27 0:50 / /mnt/volumes/with\\040space rw,nosuid,nodev shared:3 - fuse.sshfs u@h:/p rw,user_id=0',
      '45 27 0:50 /vols/a\\040b /mnt/volumes/ab rw shared:3 - fuse.sshfs u@h:/p rw,user_id=0',
    ].join('\n');
    assert.deepEqual(parseMountinfo(text), [
      { device: '98:0', root: '/mnt1', mountPoint: '/mnt/parent', fsType: 'ext3', source: '/dev/root' },
      { device: '0:50', root: '/', mountPoint: '/mnt/volumes/with space', fsType: 'fuse.sshfs', source: 'u@h:/p' },
      { device: '0:50', root: '/vols/a b', mountPoint: '/mnt/volumes/ab', fsType: 'fuse.sshfs', source: 'u@h:/p' },
    ]);
  });
});

describe('keyed mutex', () => {
  it('serializes one key and runs different keys in parallel', async () => {
    const mutex = new KeyedMutex();
    const events: string[] = [];
    const step = (key: string, ms: number) => () =>
      new Promise<void>((resolve) => {
        events.push(`start ${key}`);
        setTimeout(() => {
          events.push(`end ${key}`);
          resolve();
        }, ms);
      });
    await Promise.all([mutex.run('a', step('a1', 30)), mutex.run('a', step('a2', 1)), mutex.run('b', step('b1', 5))]);
    assert.deepEqual(events, ['start a1', 'start b1', 'end b1', 'end a1', 'start a2', 'end a2']);
  });
  it('keeps going after a failure', async () => {
    const mutex = new KeyedMutex();
    await assert.rejects(mutex.run('a', () => Promise.reject(new Error('boom'))), /boom/);
    assert.equal(await mutex.run('a', () => Promise.resolve(5)), 5);
    await mutex.idle();
  });
});
