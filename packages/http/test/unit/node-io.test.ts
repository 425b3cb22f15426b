// Byte counting on Node's own request/response objects: a request body sent chunked (no Content-Length) is
// counted as it arrives, a response body as it is written, and the watcher hears of the end once.
import http from 'node:http';
import { countBodyBytes, watchExchange, type ResponseWatcher } from '../../src/node-io';

async function exchange(
  send: (req: http.ClientRequest) => void,
): Promise<{ watcher: ResponseWatcher; closes: number; echoed: string }> {
  const proto = Object.create(http.ServerResponse.prototype) as object;
  countBodyBytes(proto);
  let closes = 0;
  const watcher: ResponseWatcher = { bytesIn: 0, bytesOut: 0, onClose: () => void (closes += 1) };
  const server = http.createServer((req, res) => {
    Object.setPrototypeOf(res, proto);
    watchExchange(req, res, watcher);
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => res.end(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const echoed = await new Promise<string>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    send(req);
  });
  await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => server.close(r));
  return { watcher, closes, echoed };
}

it('counts a chunked request body as it arrives, and the response body as it is written', async () => {
  const { watcher, closes, echoed } = await exchange((req) => {
    req.write('héllo ');
    setTimeout(() => req.end('wörld'), 10);
  });
  const bytes = Buffer.byteLength('héllo wörld');
  expect(echoed).toBe('héllo wörld');
  expect(watcher.bytesIn).toBe(bytes);
  expect(watcher.bytesOut).toBe(bytes);
  expect(closes).toBe(1);
});

it('takes a request body with Content-Length from the header', async () => {
  const { watcher, closes } = await exchange((req) => {
    req.setHeader('content-length', '5');
    req.end('hello');
  });
  expect(watcher.bytesIn).toBe(5);
  expect(watcher.bytesOut).toBe(5);
  expect(closes).toBe(1);
});
