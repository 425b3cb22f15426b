// Raw HTTP for body tests: exact headers (Connection, Content-Encoding, none at all) and exact bytes, which fetch cannot send.
import http from 'node:http';
import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** One request on its own connection, headers exactly as given (no Content-Type unless given; chunked if given). */
export function rawRequest(
  base: string,
  path: string,
  headers: Record<string, string>,
  body: Buffer | string,
  method = 'POST',
): Promise<RawResponse> {
  const url = new URL(path, base);
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method,
        agent: false,
        // Chunked when the caller says so, else the exact length.
        headers: headers['transfer-encoding']
          ? headers
          : { 'content-length': String(bytes.length), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (headers['transfer-encoding']) {
      // In pieces, so the gateway sees several chunks.
      const half = Math.floor(bytes.length / 2);
      req.write(bytes.subarray(0, half));
      req.end(bytes.subarray(half));
    } else req.end(bytes);
  });
}

/**
 * Sends the head and the first `sent` bytes of a body announced longer, then nothing more; resolves
 * with all the gateway wrote once it closed the connection.
 */
export function stalledBody(base: string, head: string, sent: Buffer): Promise<string> {
  const url = new URL(base);
  return new Promise((resolve) => {
    const socket = net.connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    socket.on('connect', () => {
      socket.write(head);
      socket.write(sent);
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    // A reset after the answer is still an answer: what arrived is resolved on close.
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}
