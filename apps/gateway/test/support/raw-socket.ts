// HTTP/1.1 over a bare socket: request targets and headers exactly as written (HTTP clients normalise them).
import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface RawRequest {
  method?: string;
  target: string;
  /** Sent in this order, duplicates kept; Host, Content-Length and Connection are added unless given. */
  headers?: Array<[string, string]>;
  body?: Buffer;
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let off = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', off);
    if (eol === -1) break;
    const size = parseInt(data.subarray(off, eol).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(data.subarray(eol + 2, eol + 2 + size));
    off = eol + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** Sends one request on a fresh connection (`Connection: close`) and reads the answer to the end. */
export function rawRequest(port: number, r: RawRequest, timeoutMs = 10_000): Promise<RawResponse> {
  const headers = [...(r.headers ?? [])];
  const has = (name: string) => headers.some(([n]) => n.toLowerCase() === name);
  if (!has('host')) headers.unshift(['Host', `127.0.0.1:${port}`]);
  if (r.body && !has('content-length') && !has('transfer-encoding'))
    headers.push(['Content-Length', String(r.body.length)]);
  if (!has('connection')) headers.push(['Connection', 'close']);
  const head = `${r.method ?? 'POST'} ${r.target} HTTP/1.1\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(Buffer.concat([Buffer.from(head, 'latin1'), r.body ?? Buffer.alloc(0)]));
    });
    const timer = setTimeout(() => socket.destroy(new Error(`no complete answer to ${r.target}`)), timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      let data = Buffer.concat(chunks);
      // Interim answers (100 Continue) come before the real one.
      while (/^HTTP\/1\.[01] 1\d\d /.test(data.subarray(0, 13).toString('latin1'))) {
        const interimEnd = data.indexOf('\r\n\r\n');
        if (interimEnd === -1) break;
        data = data.subarray(interimEnd + 4);
      }
      const end = data.indexOf('\r\n\r\n');
      if (end === -1)
        return reject(new Error(`no HTTP answer to ${r.target}: ${JSON.stringify(data.toString('latin1'))}`));
      const lines = data.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(lines[0]!.split(' ')[1]);
      const out: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        out[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const rest = data.subarray(end + 4);
      resolve({ status, headers: out, body: out['transfer-encoding'] === 'chunked' ? dechunk(rest) : rest });
    });
  });
}
