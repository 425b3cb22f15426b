// Regression: two copies of the request engine in one process patched the same response prototype, and
// every copy's wrapper added the response bytes to the same watcher (bytes_out counted N times). And the other
// way round: the copy that meters a response must be seen by the copy whose patch counts its bytes.
import http from 'node:http';
import type { ResponseWatcher } from '../../src/node-io';

type NodeIo = typeof import('../../src/node-io');

function freshNodeIo(): NodeIo {
  let mod!: NodeIo;
  jest.isolateModules(() => {
    mod = jest.requireActual('../../src/node-io');
  });
  return mod;
}

/** Answers one request with "hello world" in two writes through `proto`, metered by `metering`. */
async function serveThrough(
  proto: object,
  metering: NodeIo,
  other: NodeIo,
): Promise<{ body: string; bytesOut: number; seenByOther: boolean }> {
  let watcher!: ResponseWatcher;
  const closed = new Promise<void>((resolve) => {
    watcher = { bytesIn: 0, bytesOut: 0, onClose: () => resolve() };
  });
  let seenByOther = false;
  const server = http.createServer((req, res) => {
    Object.setPrototypeOf(res, proto);
    metering.watchExchange(req, res, watcher);
    seenByOther = other.isWatched(res);
    res.write('hello ');
    res.end('world');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const body = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text());
  await closed;
  await new Promise((r) => server.close(r));
  return { body, bytesOut: watcher.bytesOut, seenByOther };
}

it('counts response bytes once when two copies of the engine patch the same prototype', async () => {
  const a = freshNodeIo();
  const b = freshNodeIo();
  const proto = Object.create(http.ServerResponse.prototype) as object;
  a.countBodyBytes(proto);
  b.countBodyBytes(proto);
  expect(await serveThrough(proto, a, b)).toEqual({ body: 'hello world', bytesOut: 11, seenByOther: true });
});

it('counts response bytes when the copy metering the response is not the copy that patched the prototype', async () => {
  const a = freshNodeIo();
  const b = freshNodeIo();
  const proto = Object.create(http.ServerResponse.prototype) as object;
  a.countBodyBytes(proto);
  expect(await serveThrough(proto, b, a)).toEqual({ body: 'hello world', bytesOut: 11, seenByOther: true });
});
