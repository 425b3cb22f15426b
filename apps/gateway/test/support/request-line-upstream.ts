// A raw-socket upstream that records each request line as it arrived and serves every path as a chat completion.
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface RequestLine {
  method: string;
  /** The request target exactly as written on the wire. */
  target: string;
  headers: Record<string, string>;
  body: string;
}

/** What each answer reports: 500 prompt and 30 completion tokens, whatever the path (a lenient upstream). */
export const SERVED = { prompt: 500, completion: 30 };

export class RequestLineUpstream {
  readonly received: RequestLine[] = [];
  private server: net.Server | null = null;
  url = '';

  async start(): Promise<this> {
    this.server = net.createServer((socket) => this.serve(socket));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /** One request per connection (answered with Connection: close), framed by Content-Length. */
  private serve(socket: net.Socket): void {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const headEnd = buffered.indexOf('\r\n\r\n');
      if (headEnd === -1) return;
      const [line, ...fields] = buffered.subarray(0, headEnd).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const f of fields) {
        const colon = f.indexOf(':');
        headers[f.slice(0, colon).trim().toLowerCase()] = f.slice(colon + 1).trim();
      }
      const length = Number(headers['content-length'] ?? 0);
      if (buffered.length < headEnd + 4 + length) return;
      socket.off('data', onData);
      const [method, target] = line!.split(' ');
      const body = buffered.subarray(headEnd + 4, headEnd + 4 + length).toString('utf8');
      this.received.push({ method: method!, target: target!, headers, body });
      const answer = JSON.stringify({
        id: 'chatcmpl-1',
        object: 'chat.completion',
        model: 'gpt-4o-2024-08-06',
        choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
        usage: {
          prompt_tokens: SERVED.prompt,
          completion_tokens: SERVED.completion,
          total_tokens: SERVED.prompt + SERVED.completion,
        },
      });
      socket.end(
        `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(answer)}\r\n` +
          `Connection: close\r\n\r\n${answer}`,
      );
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
  }
}
