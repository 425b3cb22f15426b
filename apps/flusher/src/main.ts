// `npm run flusher`: the flusher as its own process, configured by env (see README).
import pino from 'pino';
import { parseSettings, SettingError } from './env';
import { startFlusher } from './run';

async function main(): Promise<void> {
  let settings;
  try {
    settings = parseSettings(process.env, { needStore: true });
  } catch (err) {
    if (err instanceof SettingError) {
      process.stderr.write(`tollgate-flusher: invalid setting ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = pino({ level: settings.logLevel, name: 'tollgate-flusher' });
  let runtime;
  try {
    runtime = await startFlusher(settings, { logger: log });
  } catch (err) {
    process.stderr.write(`tollgate-flusher: cannot start: ${(err as Error).message}\n`);
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting without the final flush');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'stopping: finishing the batch in hand and flushing once more');
    runtime.close().then(
      (report) => {
        log.info(report, 'final flush done');
        process.exit(0);
      },
      (err: Error) => {
        // Nothing is lost: unacknowledged batches stay claimed in Redis and are re-issued to the next flusher.
        log.error(
          { err: err.message },
          'final flush failed; claimed usage stays in Redis for the next flusher',
        );
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

void main();
