import { hostKeyAlgorithms } from '../control/host-keys';
import type { SftpSettings } from '../sftp-settings';

/** The Host alias sshfs connects to; everything about the server is in the config file. */
export const SSH_HOST_ALIAS = 'dvs-volume';

/**
 * The ssh client configuration for one volume's sshfs, written by the plugin (never by
 * an option). It pins the host key, turns off everything that runs programs or forwards,
 * and keeps the connection probed so `reconnect` notices a dead server.
 */
export function sshConfigText(settings: SftpSettings, knownHostsFile: string, hostKeyType: string): string {
  const lines: [string, string | number][] = [
    ['HostName', settings.host],
    ['Port', settings.port],
    ['User', settings.user],
    ['UserKnownHostsFile', quote(knownHostsFile)],
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
  return `Host ${SSH_HOST_ALIAS}\n${lines.map(([key, value]) => `  ${key} ${value}\n`).join('')}`;
}

const quote = (value: string): string => `"${value}"`;
