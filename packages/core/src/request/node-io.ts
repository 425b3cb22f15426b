// Hooks on Node's own request/response objects (Express and Fastify both expose them): byte counts and the end of a response.
import type { IncomingMessage, ServerResponse } from 'node:http';

/** What the hooks report to: one per metered request. */
export interface ResponseWatcher {
  bytesIn: number;
  bytesOut: number;
  /** The response finished or the connection closed. */
  onClose(): void;
}

const kWatcher = Symbol('tollgate.watcher');
const kWrite = Symbol('tollgate.write');
const kEnd = Symbol('tollgate.end');
const kPush = Symbol('tollgate.push');

type Chunk = string | Uint8Array | null | undefined | (() => void);
type WatchedResponse = ServerResponse & {
  [kWatcher]?: ResponseWatcher;
  [kWrite]: ServerResponse['write'];
  [kEnd]: ServerResponse['end'];
};
type WatchedRequest = IncomingMessage & { [kWatcher]?: ResponseWatcher; [kPush]: IncomingMessage['push'] };

function chunkBytes(chunk: Chunk, encoding: unknown): number {
  if (chunk === null || chunk === undefined || typeof chunk === 'function') return 0;
  if (typeof chunk === 'string') {
    return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  }
  return chunk.byteLength;
}

// Shared functions (not per-request closures): the watcher is found through the response itself.
function countingWrite(this: WatchedResponse, chunk: Chunk, encoding?: unknown, cb?: unknown): boolean {
  const w = this[kWatcher];
  if (w) w.bytesOut += chunkBytes(chunk, encoding);
  return (this[kWrite] as (...a: unknown[]) => boolean).call(this, chunk, encoding, cb);
}

function countingEnd(this: WatchedResponse, chunk?: Chunk, encoding?: unknown, cb?: unknown): ServerResponse {
  const w = this[kWatcher];
  if (w) w.bytesOut += chunkBytes(chunk, encoding);
  return (this[kEnd] as (...a: unknown[]) => ServerResponse).call(this, chunk, encoding, cb);
}

function countingPush(this: WatchedRequest, chunk: unknown, encoding?: BufferEncoding): boolean {
  const w = this[kWatcher];
  if (w && chunk !== null && chunk !== undefined) w.bytesIn += chunkBytes(chunk as Chunk, encoding);
  return this[kPush].call(this, chunk, encoding);
}

function onResponseClose(this: WatchedResponse): void {
  const w = this[kWatcher];
  if (w === undefined) return;
  this[kWatcher] = undefined;
  w.onClose();
}

/**
 * Counts body bytes both ways and calls `watcher.onClose()` once when the response is done or the
 * client went away (`res.writableFinished` tells which). Request bytes come from Content-Length,
 * or are counted as they arrive for a chunked body.
 */
export function watchExchange(req: IncomingMessage, res: ServerResponse, watcher: ResponseWatcher): void {
  const wres = res as WatchedResponse;
  wres[kWatcher] = watcher;
  wres[kWrite] = res.write;
  wres[kEnd] = res.end;
  res.write = countingWrite as ServerResponse['write'];
  res.end = countingEnd as ServerResponse['end'];
  res.on('close', onResponseClose);
  const length = req.headers['content-length'];
  if (length !== undefined) {
    const n = Number(length);
    watcher.bytesIn = Number.isSafeInteger(n) && n > 0 ? n : 0;
  } else if (req.headers['transfer-encoding'] !== undefined) {
    const wreq = req as WatchedRequest;
    wreq[kWatcher] = watcher;
    wreq[kPush] = req.push;
    req.push = countingPush;
  }
}
