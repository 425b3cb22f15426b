// Regression: a JWKS endpoint answering an endless body without Content-Length (chunked) was read into memory in
// full before its size was checked: 64 MiB sent, 64 MiB held. The read now stops at the 512 KiB bound.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { JwksKeySet } from '../../src/jwks';

const TOTAL = 64 * 1024 * 1024;

describe('a JWKS body over the bound', () => {
  let server: http.Server;
  let url: URL;
  let written = 0;
  let finished = false;

  beforeAll(async () => {
    server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, ' ');
      res.write('{"keys":[');
      const pump = (): void => {
        while (written < TOTAL) {
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        finished = true;
        res.end(']}');
      };
      res.on('close', () => res.removeAllListeners('drain'));
      pump();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`);
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('is refused after reading about the bound, not the whole body', async () => {
    const errors: string[] = [];
    const set = new JwksKeySet({ urls: [url], onError: (_u, m) => errors.push(m) });
    await set.ready();
    set.close();
    expect(errors).toEqual(['key set over 524288 bytes']);
    // Socket buffers hold a few MiB at most; the whole body never went out.
    expect(finished).toBe(false);
    expect(written).toBeLessThan(TOTAL / 4);
  });
});
