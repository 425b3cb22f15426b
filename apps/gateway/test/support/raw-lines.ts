// Raw HTTP/1.1 requests for tests: header names, case and repeats exactly as a hostile client writes them.
import net from 'node:net';

/** Sends `lines` (request line and headers, `Connection: close` added) and resolves with the whole reply. */
export function rawRequest(url: string, lines: string[]): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () =>
      socket.write(`${[...lines, 'Connection: close'].join('\r\n')}\r\n\r\n`),
    );
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
}

/** The header names of `rawHeaders`, lower-cased, `_` read as `-` (as CGI, WSGI and Rack servers read them). */
export function foldedNames(rawHeaders: string[]): string[] {
  return rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase().replace(/_/g, '-'));
}
