import { describe, PluginError } from '../../../errors';
import type { Logger } from '../../../log';
import { handshakeBackoffMs, type HandshakeGate, isRefusedHandshake } from '../control/handshake-gate';
import { readPassword } from '../control/secret-files';
import { msLeft, type ShareDeadline } from './share-deadline';
import type { ShareRecipe } from './share-recipe';
import { SshfsProcess } from './sshfs-process';

/** Left of a call's deadline after a start: for the bind's check and for stopping an sshfs that timed out. */
const RESERVED_MS = 1500;

/**
 * Starts a share's sshfs through the handshake gate. A handshake the server refused (too
 * many connections opening at once: MaxStartups) is tried again with backoff and jitter
 * while the connect timeout lasts; the error then says how often it was tried. The
 * password, if any, is read from its file now and handed to sshfs on stdin. Each attempt,
 * and the tries together, end by the deadline of the call that asked for the share, less
 * a moment for that call's own check of its directory.
 */
export async function startSshfs(gate: HandshakeGate, recipe: ShareRecipe, log: Logger, deadline: ShareDeadline): Promise<SshfsProcess> {
  const password = recipe.passwordFile === undefined ? undefined : await readPassword(recipe.passwordFile);
  const launch = {
    mountpoint: recipe.mountpoint,
    remotePath: recipe.root,
    sshConfigFile: recipe.sshConfigFile,
    logFile: recipe.logFile,
    password,
    options: recipe.options,
    env: recipe.env,
  };
  const started = Date.now();
  const triesEnd = Math.min(started + recipe.connectTimeoutSeconds * 1000, deadline.by - RESERVED_MS);
  // The time left is read when the gate lets an attempt through: it may have queued there.
  const attempt = (): Promise<SshfsProcess> => {
    const timeoutMs = Math.min((recipe.connectTimeoutSeconds + 5) * 1000, msLeft(deadline) - RESERVED_MS);
    if (timeoutMs <= 0) return Promise.reject(new PluginError('REMOTE_UNREACHABLE', `sshfs was not started: the Mount's connect_timeout + 5 s ran out while it waited to connect to ${recipe.server}`));
    return SshfsProcess.start({ ...launch, timeoutMs });
  };
  return gate.runRetrying(recipe.server, triesEnd, attempt, {
    retry: (error, attempt) => {
      if (!(error instanceof PluginError) || !isRefusedHandshake(error.message)) return undefined;
      const wait = handshakeBackoffMs(attempt + 1);
      log.debug('handshake refused', { server: recipe.server, attempt, retryInMs: Math.round(wait) });
      return wait;
    },
    giveUp: (error, attempts, outOfTime) => {
      // One attempt only: a server that accepted and said nothing, not one that refused a burst.
      if (!outOfTime || attempts === 1 || !(error instanceof PluginError)) return error instanceof Error ? error : new Error(describe(error));
      return new PluginError(
        error.code,
        `${error.message} (tried ${attempts} times in ${((Date.now() - started) / 1000).toFixed(1)} s: ${recipe.server} refused new SSH connections; ` +
          `raise MaxStartups in its sshd_config, or start fewer containers at once)`,
        { cause: error },
      );
    },
  });
}
