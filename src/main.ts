import { loadConfig } from './config';
import { startDaemon } from './daemon';
import { describe, isPluginError } from './errors';
import { createLogger } from './log';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    process.stderr.write(`docker-volume-sftp: ${describe(error)}\n`);
    process.exit(2);
  }
  const log = createLogger(config.logLevel);
  let daemon;
  try {
    daemon = await startDaemon(config, log);
  } catch (error) {
    log.error('cannot start', { error: describe(error), code: isPluginError(error) ? error.code : undefined });
    process.stderr.write(`docker-volume-sftp: ${describe(error)}\n`);
    process.exit(1);
  }

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    daemon.stop().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        log.error('unclean stop', { error: describe(error) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

void main();
