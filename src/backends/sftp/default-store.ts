import { PluginError } from '../../errors';
import type { VolumeOptions } from '../../options/schema';
import { SFTP_OPTION_DEFAULTS, SFTP_OPTIONS, optionValue, type SftpOptionName } from './sftp-options';

/** Plugin-level SFTP settings (config.json's env), raw: DefaultStore checks them at start. */
export interface SftpDefaults {
  host?: string;
  port?: string;
  user?: string;
  basePath?: string;
  identity?: string;
  hostkey?: string;
}

const SFTP_ENV: Record<keyof SftpDefaults, string> = {
  host: 'SFTP_HOST',
  port: 'SFTP_PORT',
  user: 'SFTP_USER',
  basePath: 'SFTP_BASE_PATH',
  identity: 'SFTP_IDENTITY',
  hostkey: 'SFTP_HOSTKEY',
};

/** The default store's settings among the daemon's environment (config.json's env); empty means unset. */
export function sftpDefaultsFrom(env: Readonly<Record<string, string | undefined>>): SftpDefaults {
  const defaults: SftpDefaults = {};
  for (const [key, name] of Object.entries(SFTP_ENV) as [keyof SftpDefaults, string][]) {
    const value = env[name];
    if (value !== undefined && value !== '') defaults[key] = value;
  }
  return defaults;
}

/**
 * The plugin's default store (SFTP_HOST and friends): one server, so one host and one
 * port. The one rule for "is this volume on the default store": it names no other host
 * and no other port. Such volumes take the plugin's user, key, host key and base path,
 * and belong in the store's catalogue; every other volume is on a server of its own.
 */
export class DefaultStore {
  readonly port: number;

  constructor(readonly defaults: SftpDefaults) {
    checkSftpDefaults(defaults);
    this.port = defaults.port === undefined ? SFTP_OPTION_DEFAULTS.port : Number(defaults.port);
  }

  get host(): string | undefined {
    return this.defaults.host;
  }

  holds(options: VolumeOptions): boolean {
    if (this.defaults.host === undefined) return false;
    const host = options.host ?? this.defaults.host;
    const port = optionValue(options, 'port') ?? this.port;
    return host === this.defaults.host && port === this.port;
  }
}

/** Plugin-level defaults must be as valid as options: a bad one stops the daemon at start. */
function checkSftpDefaults(defaults: SftpDefaults): void {
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
