// Hooks on Node's own request/response objects (Express and Fastify both expose them): byte counts and the end of a response.
import { ServerResponse, type IncomingMessage } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';

/** What the hooks report to: one per metered request. */
export interface ResponseWatcher {
  bytesIn: number;
  /** Body bytes written, when counted (see `countBodyBytes`); else the response's Content-Length is used. */
  bytesOut: number;
  /** The response finished or the connection closed. */
  onClose(): void;
  /**
   * Delivered durability: offered every write (`ending` false, with its chunk) and the end (`ending` true) after its
   * bytes were counted; true when the watcher keeps it, to `send` once the response's usage is in the store.
   * Absent: none held.
   */
  hold?(send: () => void, ending: boolean, chunk?: unknown, bytes?: number): boolean;
}

// Which watcher meters which request/response. A WeakMap, not a property: adding a property to Node's request or
// response objects costs about 1.5 KB of garbage per request (measured), which shows up as GC pauses in the
// latency tail. One map per process, kept on Node's own ServerResponse under a registered symbol: every copy of
// this package sees it (double mounting), even copies loaded in other realms (a jest worker's test files), since
// the response prototype's patch (countBodyBytes) is made once, by whichever copy comes first.
const kWatchers = Symbol.for('tollgate.watchers');
// Registered too: a prototype patched by one copy (or one jest module registry) must not be patched again,
// or every copy's wrapper would add the same bytes to the same watcher.
const kCounting = Symbol.for('tollgate.counting');
const kPush = Symbol('tollgate.push');
// A chunked request body's watcher is kept on the request itself: that path already adds properties to it (the
// patched `push`), and a WeakMap entry that nothing deletes would stay until the GC, which costs every lookup
// (measured: with no deletes, Fastify ran at 0.68x).
const kRequestWatcher = Symbol('tollgate.requestWatcher');

type Chunk = string | Uint8Array | null | undefined | (() => void);
type WatchedRequest = IncomingMessage & {
  [kPush]: IncomingMessage['push'];
  [kRequestWatcher]: ResponseWatcher;
};

const registry = ServerResponse as unknown as { [kWatchers]?: WeakMap<object, ResponseWatcher> };
const watchers = (registry[kWatchers] ??= new WeakMap<object, ResponseWatcher>());

function chunkBytes(chunk: Chunk, encoding: unknown): number {
  if (chunk === null || chunk === undefined || typeof chunk === 'function') return 0;
  if (typeof chunk === 'string') {
    return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  }
  return chunk.byteLength;
}

function countingPush(this: WatchedRequest, chunk: unknown, encoding?: BufferEncoding): boolean {
  const w = this[kRequestWatcher];
  if (w && chunk !== null && chunk !== undefined) w.bytesIn += chunkBytes(chunk as Chunk, encoding);
  return this[kPush].call(this, chunk, encoding);
}

/** True while another Tollgate instance meters this response (the middleware is mounted twice). */
export function isWatched(res: ServerResponse): boolean {
  return watchers.has(res);
}

// A shared function (not a per-request closure): the watcher is found through the response itself.
function onResponseClose(this: ServerResponse): void {
  const w = watchers.get(this);
  if (w === undefined) return;
  watchers.delete(this);
  w.onClose();
}

/**
 * Calls `watcher.onClose()` once when the response is done or the client went away
 * (`res.writableFinished` tells which). Request bytes come from Content-Length, or are counted as
 * they arrive for a chunked body.
 */
export function watchExchange(req: IncomingMessage, res: ServerResponse, watcher: ResponseWatcher): void {
  watchers.set(res, watcher);
  res.on('close', onResponseClose);
  const length = req.headers['content-length'];
  if (length !== undefined) {
    const n = Number(length);
    watcher.bytesIn = Number.isSafeInteger(n) && n > 0 ? n : 0;
  } else if (req.headers['transfer-encoding'] !== undefined) {
    const wreq = req as WatchedRequest;
    wreq[kRequestWatcher] = watcher;
    wreq[kPush] = req.push;
    req.push = countingPush;
  }
}

/**
 * Counts body bytes of every response whose prototype is `proto` (Express gives each app its own,
 * so this touches no other server); responses without a watcher pass straight through. Patching the
 * prototype once instead of every response keeps the per-request cost at zero.
 */
export function countBodyBytes(proto: object): void {
  const target = proto as ServerResponse & { [kCounting]?: true };
  if (target[kCounting] === true) return;
  const write = target.write as (...a: unknown[]) => boolean;
  const end = target.end as (...a: unknown[]) => ServerResponse;
  target.write = function countingWrite(
    this: ServerResponse,
    chunk: Chunk,
    encoding?: unknown,
    cb?: unknown,
  ) {
    const w = watchers.get(this);
    if (w !== undefined) {
      const bytes = chunkBytes(chunk, encoding);
      w.bytesOut += bytes;
      if (w.hold !== undefined && w.hold(() => write.call(this, chunk, encoding, cb), false, chunk, bytes))
        return true;
    }
    return write.call(this, chunk, encoding, cb);
  } as ServerResponse['write'];
  target.end = function countingEnd(this: ServerResponse, chunk?: Chunk, encoding?: unknown, cb?: unknown) {
    const w = watchers.get(this);
    if (w !== undefined) {
      w.bytesOut += chunkBytes(chunk, encoding);
      if (w.hold !== undefined && w.hold(() => end.call(this, chunk, encoding, cb), true)) return this;
    }
    return end.call(this, chunk, encoding, cb);
  } as ServerResponse['end'];
  Object.defineProperty(target, kCounting, { value: true });
}

/** A pass-through that adds what flows through it to `watcher.bytesOut` (for streamed bodies). */
export function countingStream(watcher: Pick<ResponseWatcher, 'bytesOut'>): Transform {
  return new Transform({
    transform(chunk: Buffer | string, encoding: BufferEncoding, callback: TransformCallback) {
      watcher.bytesOut += chunkBytes(chunk, encoding);
      callback(null, chunk);
    },
  });
}

/** The response's declared Content-Length (body bytes), or 0. */
export function declaredLength(res: ServerResponse): number {
  const v = res.getHeader('content-length');
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : 0;
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}
