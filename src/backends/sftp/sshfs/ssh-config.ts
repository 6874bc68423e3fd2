import { hostKeyAlgorithms } from '../control/host-keys';
import type { SftpSettings } from '../sftp-settings';

/** The Host alias sshfs connects to; everything about the server is in the config file. */
export const SSH_HOST_ALIAS = 'dvs-volume';

export type SshConfigLines = readonly (readonly [string, string | number])[];

/**
 * The ssh client configuration for a share's sshfs, written by the plugin (never by an
 * option): everything but where the pinned key's file is, which follows from these lines
 * (share-recipe.ts). It pins the host key type, turns off everything that runs programs
 * or forwards, and keeps the connection probed so `reconnect` notices a dead server.
 */
export function sshConfigLines(settings: SftpSettings, hostKeyType: string): SshConfigLines {
  const lines: [string, string | number][] = [
    ['HostName', settings.host],
    ['Port', settings.port],
    ['User', settings.user],
    ['GlobalKnownHostsFile', '/dev/null'],
    ['StrictHostKeyChecking', 'yes'],
    ['HostKeyAlgorithms', hostKeyAlgorithms(hostKeyType)],
    ['CheckHostIP', 'no'],
    ['UpdateHostKeys', 'no'],
    ['Ciphers', settings.cipher],
    ['Compression', settings.compression ? 'yes' : 'no'],
    ['ServerAliveInterval', settings.keepalive],
    ['ServerAliveCountMax', 3],
    ['ConnectTimeout', settings.connectTimeoutSeconds],
    ['ConnectionAttempts', 1],
    ['PermitLocalCommand', 'no'],
    ['ForwardAgent', 'no'],
    ['ForwardX11', 'no'],
    ['ClearAllForwardings', 'yes'],
    ['ControlMaster', 'no'],
    ['ControlPath', 'none'],
    ['IdentityAgent', 'none'],
    ['LogLevel', 'ERROR'],
  ];
  if (settings.passwordFile !== undefined) {
    lines.push(['PubkeyAuthentication', 'no'], ['PreferredAuthentications', 'password,keyboard-interactive'], ['NumberOfPasswordPrompts', 1]);
  } else if (settings.identityFile !== undefined) {
    lines.push(['IdentityFile', quote(settings.identityFile)], ['IdentitiesOnly', 'yes'], ['PasswordAuthentication', 'no'], ['BatchMode', 'yes']);
  }
  return lines;
}

/** The config file's text: the lines, and the known_hosts file that holds the pinned key. */
export function sshConfigText(lines: SshConfigLines, knownHostsFile: string): string {
  const all = [...lines, ['UserKnownHostsFile', quote(knownHostsFile)] as const];
  return `Host ${SSH_HOST_ALIAS}\n${all.map(([key, value]) => `  ${key} ${value}\n`).join('')}`;
}

const quote = (value: string): string => `"${value}"`;
