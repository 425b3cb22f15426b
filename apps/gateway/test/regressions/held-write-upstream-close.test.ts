// Found by a review helper, against a first bound on the writes held after a response's last one (4cf357a: past 1 MiB
// a held write answered false, so the proxy paused the upstream): when that write is the upstream body's last and the
// upstream closes its connection while paused, undici 7's socket 'end' handler asserts the parser is not paused, and
// the throw ends the process. A filtered stream with a large last event reached it every time. The held write itself
// no longer counts, and past the bound the response is cut instead: nothing pauses the upstream for holding.
import type net from 'node:net';
import http from 'node:http';
import {
  gatewayProcessBefore,
  probe,
  rawUpstream,
  token,
  type GatewayProcessBefore,
  type RawUpstream,
} from '../support/raw-upstream';

const big = 'x'.repeat(1536 * 1024);
const sse =
  `data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"${big}"}}]}\n\n` +
  'data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":22,"total_tokens":33}}\n\n' +
  'data: [DONE]\n\n';
const first = 'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n';
// With the held write counted, what follows [DONE] took the held bytes past 1 MiB with its very last byte.
const tailLen = 1024 * 1024 - first.length + 40;
const tail = `: ${'y'.repeat(tailLen - 4)}\n\n`;

const cases: Record<string, (s: net.Socket) => void> = {
  'big-last-event': (s) =>
    s.end(`HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n${sse}`),
  'after-done': (s) => {
    s.write(`HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n${first}`);
    setTimeout(() => s.end(tail), 20);
  },
};

/** A chat call; the client reads nothing for `stallMs`, then reads to the end. */
function call(url: string, which: string, stream: boolean, stallMs: number): Promise<string> {
  return new Promise((resolve) => {
    const req = http.request(`${url}/api/v1/chat/completions`, {
      method: 'POST',
      agent: false,
      headers: {
        authorization: `Bearer ${token({ sub: 'u-pause' })}`,
        'content-type': 'application/json',
        'x-case': which,
      },
    });
    req.setTimeout(8000, () => {
      req.destroy();
      resolve('timed out');
    });
    req.on('error', (e) => resolve(`error ${e.message}`));
    req.on('response', (res) => {
      res.pause();
      let n = 0;
      setTimeout(() => {
        res.on('data', (d: Buffer) => (n += d.length));
        res.on('end', () => resolve(`${res.statusCode} ${n} bytes`));
        res.on('error', (e) => resolve(`cut after ${n} bytes: ${e.message}`));
        res.resume();
      }, stallMs);
    });
    req.end(JSON.stringify({ model: 'gpt-4o', stream, messages: [{ role: 'user', content: 'hi' }] }));
  });
}

describe('the upstream closes while the proxy has it paused on its last bytes', () => {
  let up: RawUpstream;
  let g: GatewayProcessBefore;
  beforeAll(async () => {
    up = await rawUpstream(cases);
  });
  afterAll(async () => {
    await up?.close();
  });
  afterEach(async () => {
    await g?.stop();
  });

  it.each([
    ['a filtered stream with a 1.5 MiB last event, a reading client', 'big-last-event'],
    ['the held [DONE] and just under 1 MiB after it, a reading client', 'after-done'],
  ] as const)(
    '%s: the gateway stays up and the client gets the end',
    async (_n, which) => {
      g = await gatewayProcessBefore('held_close', up.url);
      const answer = await call(g.gw.url, which, true, 0);
      await new Promise((r) => setTimeout(r, 300));
      const state = g.gw.child.exitCode === null ? await probe(g.gw.url) : `exited ${g.gw.child.exitCode}`;
      if (state !== 'up')
        console.log(`${which}: client saw ${answer}\n${g.gw.output().split('\n').slice(-22).join('\n')}`);
      expect(state).toBe('up');
      expect(answer).toMatch(/^200 \d+ bytes$/);
    },
    30_000,
  );
});
