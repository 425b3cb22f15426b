// A gateway process for the crash tests, configured by env like `npm run gateway`; tells the parent (IPC) when it
// listens. SIGTERM: its graceful stop.
// The gateway by relative path: the crash tree transpiles apps/gateway/src beside test-support/crash, not into
// node_modules (see child-tree.ts).
import { createGateway } from '../../apps/gateway/src/app';
import { parseEnv } from '../../apps/gateway/src/env';

async function main(): Promise<void> {
  const gateway = await createGateway({ settings: parseEnv(process.env) });
  await gateway.listen();
  process.send?.({ at: 'ready' });
  process.on('SIGTERM', () => {
    void gateway.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

main().catch((err: Error) => {
  process.stderr.write(`gateway-child: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
