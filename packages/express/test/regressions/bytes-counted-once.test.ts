// Regression: two copies of the request engine in one process patched the same response prototype, and
// every copy's wrapper added the response bytes to the same watcher (bytes_out counted N times).
import http from 'node:http';
import type { ResponseWatcher } from '../../../core/src/request/node-io';

function freshNodeIo(): typeof import('../../../core/src/request/node-io') {
  let mod!: typeof import('../../../core/src/request/node-io');
  jest.isolateModules(() => {
    mod = jest.requireActual('../../../core/src/request/node-io');
  });
  return mod;
}

it('counts response bytes once when two copies of the engine patch the same prototype', async () => {
  const a = freshNodeIo();
  const b = freshNodeIo();
  const proto = Object.create(http.ServerResponse.prototype) as object;
  a.countBodyBytes(proto);
  b.countBodyBytes(proto);
  let watcher!: ResponseWatcher;
  const closed = new Promise<void>((resolve) => {
    watcher = { bytesIn: 0, bytesOut: 0, onClose: () => resolve() };
  });
  const server = http.createServer((req, res) => {
    Object.setPrototypeOf(res, proto);
    a.watchExchange(req, res, watcher);
    res.write('hello ');
    res.end('world');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const body = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text());
  await closed;
  await new Promise((r) => server.close(r));
  expect(body).toBe('hello world');
  expect(watcher.bytesOut).toBe(11);
});

it('counts response bytes when the copy metering the response is not the copy that patched the prototype', async () => {
  const a = freshNodeIo();
  const b = freshNodeIo();
  const proto = Object.create(http.ServerResponse.prototype) as object;
  a.countBodyBytes(proto);
  let watcher!: ResponseWatcher;
  const closed = new Promise<void>((resolve) => {
    watcher = { bytesIn: 0, bytesOut: 0, onClose: () => resolve() };
  });
  const server = http.createServer((req, res) => {
    Object.setPrototypeOf(res, proto);
    b.watchExchange(req, res, watcher);
    expect(a.isWatched(res)).toBe(true);
    res.write('hello ');
    res.end('world');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const body = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text());
  await closed;
  await new Promise((r) => server.close(r));
  expect(body).toBe('hello world');
  expect(watcher.bytesOut).toBe(11);
});
