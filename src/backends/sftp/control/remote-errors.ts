import { PluginError } from '../../../errors';

export interface Target {
  host: string;
  port: number;
  user: string;
}

/** Whether a failed connection attempt is worth one more try. */
export function isTransient(error: unknown): boolean {
  const { code, level, message } = errorParts(error);
  return (
    (typeof code === 'string' && ['ETIMEDOUT', 'ECONNRESET', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EPIPE'].includes(code)) ||
    level === 'client-timeout' ||
    /timed out|handshake/i.test(message)
  );
}

/**
 * Turns what ssh2 reports into a message that says what went wrong and what to do.
 * Host-key refusals are raised by our own verifier and never reach here.
 */
export function connectError(error: unknown, target: Target, timeoutSeconds: number): PluginError {
  const where = `${target.host}:${target.port}`;
  const { code, level, message } = errorParts(error);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || /getaddrinfo/.test(message)) {
    return new PluginError('REMOTE_UNREACHABLE', `cannot resolve the SFTP host "${target.host}": check the host option or the DNS of this Docker host`, { cause: error });
  }
  if (code === 'ECONNREFUSED' || /ECONNREFUSED/.test(message)) {
    return new PluginError('REMOTE_UNREACHABLE', `connection refused by ${where}: check that the SFTP server runs and that port ${target.port} is right`, { cause: error });
  }
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
    return new PluginError('REMOTE_UNREACHABLE', `no route to ${where}: check the host option and this Docker host's network`, { cause: error });
  }
  if (level === 'client-timeout' || code === 'ETIMEDOUT' || /timed out/i.test(message)) {
    return new PluginError(
      'REMOTE_UNREACHABLE',
      `no answer from ${where} within ${timeoutSeconds} s: check the host, the port and any firewall between this Docker host and the server`,
      { cause: error },
    );
  }
  if (level === 'client-authentication' || /authentication methods failed|auth/i.test(message)) {
    return new PluginError(
      'REMOTE_AUTH',
      `${where} refused to log in user "${target.user}": check the user, and that the key named by identity (or the password in password_file) is accepted by the server`,
      { cause: error },
    );
  }
  return new PluginError('REMOTE_UNREACHABLE', `could not connect to ${where}: ${message}`, { cause: error });
}

/** A failed SFTP operation on the path, after login. */
export function operationError(error: unknown, what: string, remotePath: string, target: Target): PluginError {
  const { code, message } = errorParts(error);
  if (code === 'EACCES' || code === 3 || /permission denied/i.test(message)) {
    return new PluginError(
      'REMOTE_PERMISSION',
      `permission denied on the server to ${what} ${remotePath} as user "${target.user}": choose a path that user may write, or fix its permissions on the server`,
      { cause: error },
    );
  }
  return new PluginError('BACKEND_FAILED', `could not ${what} ${remotePath} on ${target.host}: ${message}`, { cause: error });
}

function errorParts(error: unknown): { code: string | number; level: string; message: string } {
  const e = (error ?? {}) as { code?: unknown; level?: unknown; message?: unknown };
  return {
    code: typeof e.code === 'string' || typeof e.code === 'number' ? e.code : '',
    level: typeof e.level === 'string' ? e.level : '',
    message: typeof e.message === 'string' ? e.message : String(error),
  };
}
