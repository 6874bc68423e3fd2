import type { SftpDefaults } from '../../config';
import { SFTP_ENV } from '../../config';
import { PluginError } from '../../errors';
import type { OptionSchema, RefusedOptions } from '../../options/schema';
import { boolean, fileMode, fileName, integer, matching, oneOf, passedOn, seconds } from '../../options/values';
import { BACKEND_OPTION } from '../choose-backend';

export const CIPHERS = [
  'aes128-gcm@openssh.com',
  'aes256-gcm@openssh.com',
  'chacha20-poly1305@openssh.com',
  'aes128-ctr',
  'aes192-ctr',
  'aes256-ctr',
] as const;

const hostName = matching(
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9-]{1,63})*\.?|[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+)$/,
  'a host name or an IP address',
);
const userName = matching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/, 'a user name (letters, digits, _ . -)');
// A remote path: no "..", no commas, nothing a shell or sshfs would read as syntax.
const remotePath = matching(/^(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9_.~@+=/-]{1,255}$/, 'a remote path of letters, digits and _ . ~ @ + = / - without ".."');
const fingerprint = matching(/^SHA256:[A-Za-z0-9+/]{43}=?$/, 'a fingerprint as ssh-keygen -l prints it, SHA256:<43 base64 characters>');

const spec = {
  host: hostName,
  port: integer(1, 65535),
  user: userName,
  path: remotePath,
  identity: fileName,
  password_file: fileName,
  hostkey: fingerprint,
  readonly: boolean,
  uid: integer(0, 2 ** 32 - 2),
  gid: integer(0, 2 ** 32 - 2),
  umask: fileMode,
  allow_other: boolean,
  remove: oneOf('retain', 'delete'),
  connections: integer(1, 16),
  cipher: oneOf(...CIPHERS),
  compression: boolean,
  cache_timeout: seconds(3600),
  keepalive: integer(1, 300),
  connect_timeout: integer(1, 60),
};

export type SftpOptionName = keyof typeof spec;

export const SFTP_OPTIONS: OptionSchema = {
  [BACKEND_OPTION.name]: BACKEND_OPTION.spec,
  ...Object.fromEntries(Object.entries(spec).map(([name, check]) => [name, passedOn(check)])),
};

const RUNS_PROGRAMS = 'it can make ssh or sshfs run a program or load code on the host, so no volume option may set it';
const HOST_KEYS = 'host keys are always checked; pin the server key with hostkey=SHA256:... or put a known_hosts file in the keys directory';

/** Refused by name, with the reason; names are compared in lower case. */
export const SFTP_REFUSED: RefusedOptions = {
  ssh_command: RUNS_PROGRAMS,
  sftp_server: RUNS_PROGRAMS,
  directport: 'it bypasses ssh and its encryption',
  proxycommand: RUNS_PROGRAMS,
  proxyjump: RUNS_PROGRAMS,
  localcommand: RUNS_PROGRAMS,
  permitlocalcommand: RUNS_PROGRAMS,
  pkcs11provider: RUNS_PROGRAMS,
  securitykeyprovider: RUNS_PROGRAMS,
  knownhostscommand: RUNS_PROGRAMS,
  controlpath: RUNS_PROGRAMS,
  controlmaster: RUNS_PROGRAMS,
  identityagent: RUNS_PROGRAMS,
  '-f': 'ssh configuration files are written by the plugin; they cannot be chosen by an option',
  ssh_config: 'ssh configuration files are written by the plugin; they cannot be chosen by an option',
  identityfile: 'use identity=NAME, the name of a key file in the keys directory',
  stricthostkeychecking: HOST_KEYS,
  userknownhostsfile: HOST_KEYS,
  password: 'Docker stores options in plain text and shows them in docker volume inspect; put the password in a file in the keys directory and use password_file=NAME',
};

/** Plugin-level defaults must be as valid as options: a bad one stops the daemon at start. */
export function checkSftpDefaults(defaults: SftpDefaults): void {
  const checks: [keyof SftpDefaults, SftpOptionName][] = [
    ['host', 'host'],
    ['port', 'port'],
    ['user', 'user'],
    ['basePath', 'path'],
    ['identity', 'identity'],
    ['hostkey', 'hostkey'],
  ];
  for (const [key, option] of checks) {
    const value = defaults[key];
    if (value === undefined) continue;
    try {
      SFTP_OPTIONS[option]?.check(value);
    } catch (error) {
      throw new PluginError('CONFIG', `${SFTP_ENV[key]}=${JSON.stringify(value)}: ${(error as Error).message}`);
    }
  }
}
