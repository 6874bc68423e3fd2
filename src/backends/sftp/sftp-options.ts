import type { OptionSchema, RefusedOptions, VolumeOptions } from '../../options/schema';
import { boolean, fileMode, fileName, integer, matching, oneOf, passedOn, seconds, type TypedOption } from '../../options/values';
import { BACKEND_OPTION } from '../registry';

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

/**
 * Every option of an SFTP volume, once: how its value is checked and what it parses to.
 * Each is passed on to ssh or sshfs only through typed settings (sftp-settings.ts), and
 * rendered by ssh-config.ts (server, login, cipher, keep-alive) or sshfs-options.ts
 * (caches, ownership, connections).
 */
const SPECS = {
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
  contain_symlinks: boolean,
};

export type SftpOptionName = keyof typeof SPECS;
type ParsedAs<K extends SftpOptionName> = (typeof SPECS)[K] extends TypedOption<infer T> ? T : never;

// Measured here: AES-GCM with several connections roughly doubles sshfs's default throughput.
// Another host's change shows within cache_timeout seconds (sshfs-options.ts, cacheOptions):
// 1 s keeps the cross-host promise with sshfs's listing cache on.
/** What an option means when a volume does not set it (and no plugin default applies). */
export const SFTP_OPTION_DEFAULTS = {
  port: 22,
  readonly: false,
  allow_other: true,
  remove: 'retain',
  connections: 4,
  cipher: 'aes128-gcm@openssh.com',
  compression: false,
  cache_timeout: 1,
  keepalive: 5,
  connect_timeout: 10,
  contain_symlinks: false,
} as const satisfies Partial<{ [K in SftpOptionName]: ParsedAs<K> }>;

/** The typed value of an option as the volume gives it, or undefined. */
export function optionValue<K extends SftpOptionName>(options: VolumeOptions, name: K): ParsedAs<K> | undefined {
  const value = options[name];
  return value === undefined ? undefined : (SPECS[name].parse(value) as ParsedAs<K>);
}

export const SFTP_OPTIONS: OptionSchema = {
  [BACKEND_OPTION]: oneOf('sftp'),
  ...Object.fromEntries(Object.entries(SPECS).map(([name, spec]) => [name, passedOn<unknown>(spec)])),
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
