import { describe, PluginError } from '../../../errors';
import type { Logger } from '../../../log';
import { handshakeBackoffMs, type HandshakeGate, isRefusedHandshake } from '../control/handshake-gate';
import { readPassword } from '../control/secret-files';
import type { ShareRecipe } from './share-recipe';
import { SshfsProcess } from './sshfs-process';

/**
 * Starts a share's sshfs through the handshake gate. A handshake the server refused (too
 * many connections opening at once: MaxStartups) is tried again with backoff and jitter
 * while the connect timeout lasts; the error then says how often it was tried. The
 * password, if any, is read from its file now and handed to sshfs on stdin.
 */
export async function startSshfs(gate: HandshakeGate, recipe: ShareRecipe, log: Logger): Promise<SshfsProcess> {
  const password = recipe.passwordFile === undefined ? undefined : await readPassword(recipe.passwordFile);
  const launch = {
    mountpoint: recipe.mountpoint,
    remotePath: recipe.root,
    sshConfigFile: recipe.sshConfigFile,
    logFile: recipe.logFile,
    password,
    options: recipe.options,
    env: recipe.env,
    timeoutMs: (recipe.connectTimeoutSeconds + 5) * 1000,
  };
  const started = Date.now();
  return gate.runRetrying(recipe.server, started + recipe.connectTimeoutSeconds * 1000, () => SshfsProcess.start(launch), {
    retry: (error, attempt) => {
      if (!(error instanceof PluginError) || !isRefusedHandshake(error.message)) return undefined;
      const wait = handshakeBackoffMs(attempt + 1);
      log.debug('handshake refused', { server: recipe.server, attempt, retryInMs: Math.round(wait) });
      return wait;
    },
    giveUp: (error, attempts, outOfTime) => {
      if (!outOfTime || !(error instanceof PluginError)) return error instanceof Error ? error : new Error(describe(error));
      return new PluginError(
        error.code,
        `${error.message} (tried ${attempts} times in ${((Date.now() - started) / 1000).toFixed(1)} s: ${recipe.server} refused new SSH connections; ` +
          `raise MaxStartups in its sshd_config, or start fewer containers at once)`,
        { cause: error },
      );
    },
  });
}
