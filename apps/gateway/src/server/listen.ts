// The gateway's HTTP server: Node's header and request timeouts from the settings, checked often enough to hold.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GatewaySettings } from '../env';
import { answerClientError } from './client-error';

/** Listens on `settings.port`/`settings.host` (port 0: any free port); resolves with the server and its base URL. */
export function listen(
  settings: GatewaySettings,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: http.Server; url: URL }> {
  const server = http.createServer(
    {
      headersTimeout: settings.headersTimeoutMs,
      requestTimeout: settings.requestTimeoutMs,
      // Node checks both every interval (30 s by default): often enough that the bounds hold within ~1 s.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(settings.headersTimeoutMs / 4))),
    },
    handler,
  );
  server.on('clientError', answerClientError);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const onListening = () => {
      const { port } = server.address() as AddressInfo;
      const host =
        settings.host && settings.host !== '0.0.0.0' && settings.host !== '::' ? settings.host : 'localhost';
      resolve({ server, url: new URL(`http://${host.includes(':') ? `[${host}]` : host}:${port}`) });
    };
    if (settings.host) server.listen(settings.port, settings.host, onListening);
    else server.listen(settings.port, onListening);
  });
}
