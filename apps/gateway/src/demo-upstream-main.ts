// The demo upstream as its own process (docker-compose's `upstream` service): PORT (default 9000), HOST (default 0.0.0.0).
import { startDemoUpstream } from './demo-upstream';

const port = Number(process.env.PORT ?? 9000);
void startDemoUpstream({ port, host: process.env.HOST ?? '0.0.0.0' }).then((u) => {
  process.stdout.write(`demo upstream listening on port ${u.url.port}\n`);
  const stop = () => void u.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
});
