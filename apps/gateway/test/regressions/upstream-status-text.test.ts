// Found by a review helper. An upstream's reason phrase is copied to the client's response (res.statusMessage = statusMessage). undici decodes
// it as UTF-8, so a non-Latin-1 character ("200 OK €"), a Latin-1 byte that is no UTF-8 (U+FFFD), or a control
// byte (llhttp lets anything but CR/LF through) is a statusMessage Node's writeHead refuses with ERR_INVALID_CHAR.
// - an event stream (on any /api route, LLM or not) whose head comes before its first event: the headers are flushed from a setImmediate, the
//   throw is uncaught, and the gateway process dies;
// - a JSON answer (DURABILITY=delivered): the held end throws inside the settlement's send, is logged and
//   "ignored", and the client's response never ends (the request hangs until the client gives up).
import type net from 'node:net';
import {
  chat,
  gatewayProcessBefore,
  probe,
  rawUpstream,
  type GatewayProcessBefore,
  type RawUpstream,
} from '../support/raw-upstream';

const head = (reason: Buffer, type: string, extra = '') =>
  Buffer.concat([
    Buffer.from('HTTP/1.1 200 '),
    reason,
    Buffer.from(`\r\ncontent-type: ${type}\r\n${extra}connection: close\r\n\r\n`),
  ]);
const EURO = Buffer.from('OK \u20ac', 'utf8');
const LATIN1 = Buffer.from('R\xe9ussi', 'latin1');
const CONTROL = Buffer.from('OK\x01', 'latin1');
const JSON_BODY = '{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}}';

const sse = (reason: Buffer) => (s: net.Socket) => {
  s.write(head(reason, 'text/event-stream'));
  setTimeout(() => s.end('data: {"choices":[]}\n\ndata: [DONE]\n\n'), 300);
};
const json = (reason: Buffer) => (s: net.Socket) =>
  s.end(
    Buffer.concat([
      head(reason, 'application/json', `content-length: ${JSON_BODY.length}\r\n`),
      Buffer.from(JSON_BODY),
    ]),
  );

describe('an upstream reason phrase Node cannot send', () => {
  let up: RawUpstream;
  let g: GatewayProcessBefore;

  beforeAll(async () => {
    up = await rawUpstream({
      'json-euro': json(EURO),
      'json-latin1': json(LATIN1),
      'json-control': json(CONTROL),
      'sse-euro': sse(EURO),
      'sse-latin1': sse(LATIN1),
      'sse-control': sse(CONTROL),
    });
  });
  afterAll(async () => {
    await g?.stop();
    await up?.close();
  });
  afterEach(async () => {
    await g?.stop();
  });

  it.each(['json-euro', 'json-latin1', 'json-control'])(
    '%s: the client gets an answer',
    async (which) => {
      g = await gatewayProcessBefore('status_text_json', up.url);
      expect(await chat(g.gw.url, which, { timeoutMs: 4000 })).toBe(`200 ${JSON_BODY}`);
      expect(await probe(g.gw.url)).toBe('up');
    },
    30_000,
  );

  it.each([
    ['sse-euro', '/api/v1/chat/completions'],
    ['sse-latin1', '/api/v1/chat/completions'],
    ['sse-control', '/api/v1/chat/completions'],
    // Not an LLM route: nothing is read or filtered, the headers are flushed all the same.
    ['sse-latin1', '/api/v1/events'],
  ])(
    '%s on %s: the gateway stays up',
    async (which, path) => {
      g = await gatewayProcessBefore('status_text_sse', up.url);
      const answer = await chat(g.gw.url, which, { stream: true, timeoutMs: 4000, path });
      await new Promise((r) => setTimeout(r, 500));
      const state = g.gw.child.exitCode === null ? await probe(g.gw.url) : `exited ${g.gw.child.exitCode}`;
      if (state !== 'up')
        console.log(`${which}: client saw ${answer}\n${g.gw.output().split('\n').slice(-14).join('\n')}`);
      expect(state).toBe('up');
      expect(answer).toBe('200 data: {"choices":[]}\n\ndata: [DONE]\n\n');
    },
    30_000,
  );
});
