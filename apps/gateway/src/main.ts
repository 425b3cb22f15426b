// The gateway process: `node dist/main.js [--demo]` (npm start / npm run gateway). Settings come from env.
import { createGateway } from './app';
import { demoBanner, demoToken, persistentDemoSecret } from './demo';
import { SettingError, parseEnv } from './env';
import { createLogger } from './logger';

async function main(): Promise<void> {
  const demo = process.argv.includes('--demo');
  let settings;
  try {
    settings = parseEnv(process.env, { demo, demoSecret: persistentDemoSecret });
  } catch (err) {
    if (err instanceof SettingError) {
      process.stderr.write(`tollgate-gateway: invalid setting ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(settings.logLevel);
  process.on('unhandledRejection', (err) => log.error({ err: String(err) }, 'unhandled rejection'));
  let gateway;
  try {
    gateway = await createGateway({ settings, logger: log });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    log.fatal({ err: reason }, 'gateway failed to start');
    process.stderr.write(`tollgate-gateway: cannot start: ${reason}\n`);
    process.exit(1);
  }
  let url: URL;
  try {
    url = await gateway.listen();
  } catch (err) {
    log.fatal(
      { err: err instanceof Error ? err.message : String(err) },
      `cannot listen on port ${settings.port}`,
    );
    await gateway.close().catch(() => undefined);
    process.exit(1);
  }
  const store = settings.redisClusterNodes
    ? 'Redis Cluster'
    : settings.redisUrl
      ? 'Redis'
      : 'in-process store';
  const ledger = settings.databaseUrl ? 'Postgres ledger' : `PGlite ledger in ${settings.dataDir}`;
  log.info(
    {
      url: url.toString(),
      upstream: gateway.upstreamUrl.toString(),
      store,
      ledger,
      flusher: settings.flusher,
    },
    'gateway listening',
  );
  if (settings.demo) {
    const token = demoToken(settings.jwt);
    const upstream = settings.upstreamUrl ? settings.upstreamUrl.toString() : 'built-in demo upstream';
    if (token) process.stdout.write(`${demoBanner(url, token, upstream, `${store}, ${ledger}`)}\n`);
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: finishing in-flight requests, settling usage, flushing the ledger');
    gateway.close().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err: String(err) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

void main();
