// Break the meter: spellings of an LLM call a lenient upstream serves must be metered exactly, or refused unforwarded.
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { gzipSync, deflateSync, brotliCompressSync } from 'node:zlib';
import { createTestDatabase, REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { METERED_CONFIG, ledgerByMeter, startGateway, token, type RunningGateway } from '../support/kit';
import { LenientUpstream } from '../support/lenient-upstream';
import { rawRequest, type RawResponse } from '../support/raw-socket';

/*
 * The rule (SPEC §4 "One canonical request", §6): whatever a lenient server behind the gateway reads as the chat
 * endpoint is either metered exactly as served (ledger input/output tokens == what the upstream served that user)
 * or refused (a 4xx, nothing forwarded). "Forwarded and not metered" fails. With `unpricedModel: block`, every
 * spelling of a call for an unpriced model is refused and the upstream never sees the model.
 * The lenient upstream is the union of real servers' leniency (see lenient-upstream.ts): `;params` stripped
 * (servlet containers), every escape decoded incl. %2F (Go's URL.Path), a NUL ending the path, method override
 * headers honoured, Pydantic's lax booleans for `stream`. A gateway may refuse any of these spellings, or read
 * them the same way; it may not forward them unread.
 */
const CHAT = '/api/v1/chat/completions';
const JSON_TYPE: [string, string] = ['Content-Type', 'application/json'];

type Mode = 'json' | 'stream';

interface Variant {
  name: string;
  /** The request target; CHAT when not given. */
  target?: (upstreamPort: number) => string;
  method?: string;
  /** Content-Type and every other header; `[JSON_TYPE]` when not given. */
  headers?: Array<[string, string]>;
  /** The body's bytes from its JSON text; UTF-8 when not given. */
  encode?: (json: string) => Buffer;
  /** Changes to the JSON body (after model, messages and stream are set). */
  body?: (b: Record<string, unknown>) => Record<string, unknown>;
  /** The modes that make sense for this variant; both when not given. */
  modes?: Mode[];
  /** Headers that must not reach the upstream (hop-by-hop ones the client named). */
  notForwarded?: string[];
  /** Sends the framing itself (Content-Length / Transfer-Encoding given in headers). */
  framed?: (body: Buffer) => Buffer;
}

const at = (path: string) => () => path;
const utf8Bom = (s: string) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(s, 'utf8')]);
const utf16le = (s: string) => Buffer.from(s, 'utf16le');
const utf16be = (s: string) => Buffer.from(s, 'utf16le').swap16();
const chunked = (b: Buffer) =>
  Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n0\r\n\r\n')]);

/** Every spelling of one chat call. Comments give the server family that reads it as the chat endpoint. */
const VARIANTS: Variant[] = [
  // The control: the canonical call, which every gateway meters.
  { name: 'canonical' },
  // --- request targets (the brief's list) ---
  { name: 'trailing slash', target: at(`${CHAT}/`) },
  { name: 'upper case path', target: at('/API/V1/CHAT/COMPLETIONS') },
  { name: 'mixed case path', target: at('/api/v1/Chat/Completions') },
  { name: 'fragment', target: at(`${CHAT}#frag`) },
  { name: 'backslashes', target: at('/api\\v1\\chat\\completions') },
  { name: 'repeated slashes', target: at('//api//v1/chat/completions') },
  { name: 'dot segment', target: at('/api/v1/./chat/completions') },
  { name: 'dot-dot segment', target: at('/api/x/../v1/chat/completions') },
  { name: 'escaped unreserved letter', target: at('/api/v1/chat/%63ompletions') },
  // Tomcat/Jetty/Spring strip `;params` from each segment before routing: the gateway must meter or refuse it.
  { name: 'matrix parameter at the end', target: at(`${CHAT};x`) },
  { name: 'query', target: at(`${CHAT}?x=1`) },
  // --- request targets beyond the list ---
  { name: 'matrix parameter mid-path', target: at('/api/v1;x=1/chat/completions') },
  { name: 'escaped slash %2F (Go decodes URL.Path)', target: at('/api/v1/chat%2Fcompletions') },
  { name: 'escaped slash lower case %2f', target: at('/api/v1/chat%2fcompletions') },
  { name: 'escaped backslash %5C', target: at('/api/v1%5Cchat%5Ccompletions') },
  { name: 'upper case escape of an upper case letter', target: at('/api/v1/chat/%43OMPLETIONS') },
  { name: 'escaped prefix /%61pi', target: at('/%61pi/v1/chat/completions') },
  { name: 'escaped dot segment %2e', target: at('/api/v1/%2e/chat/completions') },
  { name: 'escaped dot-dot %2E%2E', target: at('/api/v1/x/%2E%2E/chat/completions') },
  { name: 'trailing dot segment', target: at(`${CHAT}/.`) },
  { name: 'trailing NUL %00 (C servers end the path there)', target: at(`${CHAT}%00`) },
  { name: 'absolute-form, the upstream host', target: (up) => `http://127.0.0.1:${up}${CHAT}` },
  { name: 'absolute-form, another host', target: at(`http://evil.example${CHAT}`) },
  {
    name: 'absolute-form, upper case scheme and path',
    target: at('HTTP://evil.example/API/V1/CHAT/COMPLETIONS/'),
  },
  // --- bodies (the brief's list) ---
  { name: 'Content-Encoding: IDENTITY', headers: [JSON_TYPE, ['Content-Encoding', 'IDENTITY']] },
  { name: 'UTF-8 BOM', encode: utf8Bom },
  {
    name: 'charset=utf-16le',
    headers: [['Content-Type', 'application/json; charset=utf-16le']],
    encode: utf16le,
  },
  {
    name: 'charset=utf-16be',
    headers: [['Content-Type', 'application/json; charset=utf-16be']],
    encode: utf16be,
  },
  { name: 'no Content-Type', headers: [] },
  { name: 'text/plain', headers: [['Content-Type', 'text/plain']] },
  { name: 'Connection: content-type', headers: [JSON_TYPE, ['Connection', 'close, content-type']] },
  { name: 'gzip body', headers: [JSON_TYPE, ['Content-Encoding', 'gzip']], encode: (s) => gzipSync(s) },
  {
    name: 'Content-Encoding: GZIP',
    headers: [JSON_TYPE, ['Content-Encoding', 'GZIP']],
    encode: (s) => gzipSync(s),
  },
  { name: 'Accept-Encoding: zstd only', headers: [JSON_TYPE, ['Accept-Encoding', 'zstd']] },
  // --- bodies beyond the list ---
  {
    name: 'deflate body',
    headers: [JSON_TYPE, ['Content-Encoding', 'deflate']],
    encode: (s) => deflateSync(s),
  },
  { name: 'br body', headers: [JSON_TYPE, ['Content-Encoding', 'br']], encode: (s) => brotliCompressSync(s) },
  { name: 'x-gzip body', headers: [JSON_TYPE, ['Content-Encoding', 'x-gzip']], encode: (s) => gzipSync(s) },
  {
    name: 'Content-Encoding list "identity, gzip"',
    headers: [JSON_TYPE, ['Content-Encoding', 'identity, gzip']],
    encode: (s) => gzipSync(s),
  },
  {
    name: 'two Content-Encoding headers (identity, then gzip)',
    headers: [JSON_TYPE, ['Content-Encoding', 'identity'], ['Content-Encoding', 'gzip']],
    encode: (s) => gzipSync(s),
  },
  {
    name: 'UTF-16LE with a BOM, no charset',
    encode: (s) => Buffer.concat([Buffer.from([0xff, 0xfe]), utf16le(s)]),
  },
  { name: 'UTF-16LE without BOM or charset', encode: utf16le },
  {
    name: 'charset=utf-16 with a big-endian BOM',
    headers: [['Content-Type', 'application/json; charset=utf-16']],
    encode: (s) => Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be(s)]),
  },
  {
    name: 'Content-Type: application/json, text/plain',
    headers: [['Content-Type', 'application/json, text/plain']],
  },
  {
    name: 'two Content-Type headers (text/plain first)',
    headers: [
      ['Content-Type', 'text/plain'],
      ['Content-Type', 'application/json'],
    ],
  },
  {
    name: 'two Content-Type headers (application/json first)',
    headers: [
      ['Content-Type', 'application/json'],
      ['Content-Type', 'text/plain'],
    ],
  },
  { name: 'Content-Type: APPLICATION/JSON', headers: [['Content-Type', 'APPLICATION/JSON']] },
  { name: 'Content-Type: application/vnd.api+json', headers: [['Content-Type', 'application/vnd.api+json']] },
  {
    name: 'Transfer-Encoding: chunked',
    headers: [JSON_TYPE, ['Transfer-Encoding', 'chunked']],
    framed: chunked,
  },
  {
    name: 'Transfer-Encoding: chunked with a Content-Length',
    headers: [JSON_TYPE, ['Transfer-Encoding', 'chunked'], ['Content-Length', '10']],
    framed: chunked,
  },
  {
    name: 'Accept-Encoding: zstd;q=1, gzip;q=0.5',
    headers: [JSON_TYPE, ['Accept-Encoding', 'zstd;q=1, gzip;q=0.5']],
  },
  { name: 'Accept-Encoding: ZSTD (upper case)', headers: [JSON_TYPE, ['Accept-Encoding', 'ZSTD']] },
  { name: 'Accept-Encoding: *', headers: [JSON_TYPE, ['Accept-Encoding', '*']] },
  {
    name: 'two Accept-Encoding headers (gzip, then zstd)',
    headers: [JSON_TYPE, ['Accept-Encoding', 'gzip;q=0.1'], ['Accept-Encoding', 'zstd']],
  },
  // Google APIs, Rails and Express's method-override middleware treat this GET as the POST it names.
  {
    name: 'GET with X-HTTP-Method-Override: POST',
    method: 'GET',
    headers: [JSON_TYPE, ['X-HTTP-Method-Override', 'POST']],
  },
  { name: 'GET with X-HTTP-Method: POST', method: 'GET', headers: [JSON_TYPE, ['X-HTTP-Method', 'POST']] },
  {
    name: 'absolute-form with backslashes',
    target: at('http://evil.example\\api\\v1\\chat\\completions'),
  },
  {
    name: 'charset="utf-16le" (quoted)',
    headers: [['Content-Type', 'application/json; charset="utf-16le"']],
    encode: utf16le,
  },
  {
    name: 'charset=UTF-16LE (upper case)',
    headers: [['Content-Type', 'application/json; charset=UTF-16LE']],
    encode: utf16le,
  },
  { name: 'charset=iso-8859-1', headers: [['Content-Type', 'application/json; charset=iso-8859-1']] },
  { name: 'Expect: 100-continue', headers: [JSON_TYPE, ['Expect', '100-continue']] },
  { name: 'Connection: content-length', headers: [JSON_TYPE, ['Connection', 'close, content-length']] },
  {
    name: 'Connection: content-encoding, gzip body',
    headers: [JSON_TYPE, ['Content-Encoding', 'gzip'], ['Connection', 'close, content-encoding']],
    encode: (s) => gzipSync(s),
  },
  // h2c smuggling: an upstream that upgrades would take the connection past the gateway.
  {
    name: 'Upgrade: h2c',
    headers: [
      JSON_TYPE,
      ['Connection', 'close, Upgrade, HTTP2-Settings'],
      ['Upgrade', 'h2c'],
      ['HTTP2-Settings', 'AAMAAABkAAQAoAAAAAIAAAAA'],
    ],
    notForwarded: ['upgrade', 'http2-settings'],
  },
  {
    name: 'stream_options.include_usage: false',
    body: (b) => ({ ...b, stream_options: { include_usage: false } }),
    modes: ['stream'],
  },
  { name: 'stream_options: null', body: (b) => ({ ...b, stream_options: null }), modes: ['stream'] },
  // Pydantic (vLLM, LiteLLM, most Python servers) reads "true" and 1 as true: the upstream streams.
  { name: 'stream: "true" (a string)', body: (b) => ({ ...b, stream: 'true' }), modes: ['stream'] },
  { name: 'stream: 1', body: (b) => ({ ...b, stream: 1 }), modes: ['stream'] },
];

interface Case {
  variant: Variant;
  mode: Mode;
  label: string;
}

const CASES: Case[] = VARIANTS.flatMap((variant) =>
  (variant.modes ?? (['json', 'stream'] as Mode[])).map((mode) => ({
    variant,
    mode,
    label: `${variant.name} (${mode})`,
  })),
);

function requestBody(c: Case, model: string): Buffer {
  let body: Record<string, unknown> = {
    model,
    messages: [{ role: 'user', content: `spelling: ${c.label}` }],
  };
  if (c.mode === 'stream') body.stream = true;
  if (c.variant.body) body = c.variant.body(body);
  const json = JSON.stringify(body);
  return c.variant.encode ? c.variant.encode(json) : Buffer.from(json, 'utf8');
}

/** A refusal is a 4xx and nothing forwarded (Node's own parser answers a bare 400, not problem+json). */
function isRefusal(res: RawResponse, forwarded: number): boolean {
  return res.status >= 400 && res.status < 500 && forwarded === 0;
}

/** No answer at all (the gateway hung) reads as status 0, so the case fails with its numbers. */
async function answered(pending: Promise<RawResponse>): Promise<RawResponse> {
  try {
    return await pending;
  } catch {
    return { status: 0, headers: {}, body: Buffer.alloc(0) };
  }
}

describe('adversarial spellings of an LLM call', () => {
  let upstream: LenientUpstream;
  let db: { url: string; drop: () => Promise<void> };
  let flag: RunningGateway;
  let block: RunningGateway;
  let n = 0;
  /** What each case saw, written to $ADVERSARIAL_REPORT (when set) for the report's table. */
  const observations: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    upstream = await new LenientUpstream().start();
    db = await createTestDatabase('gw_adversarial');
    const env = {
      UPSTREAM_URL: upstream.url,
      DATABASE_URL: db.url,
      REDIS_URL,
      FLUSHER: 'inline',
      FLUSH_INTERVAL_MS: '600000',
    };
    flag = await startGateway(
      { ...env, REDIS_PREFIX: uniquePrefix('gw-adv-flag') },
      { config: METERED_CONFIG },
    );
    block = await startGateway(
      { ...env, REDIS_PREFIX: uniquePrefix('gw-adv-block') },
      { config: { ...METERED_CONFIG, unpricedModel: 'block' } },
    );
  });

  afterAll(async () => {
    if (process.env.ADVERSARIAL_REPORT)
      writeFileSync(process.env.ADVERSARIAL_REPORT, JSON.stringify(observations, null, 1));
    await flag?.close();
    await block?.close();
    await upstream?.stop();
    await db?.drop();
  });

  const portOf = (gw: RunningGateway) => Number(new URL(gw.url).port);

  function send(gw: RunningGateway, c: Case, userId: string, model: string): Promise<RawResponse> {
    const v = c.variant;
    const body = requestBody(c, model);
    return rawRequest(portOf(gw), {
      method: v.method ?? 'POST',
      target: v.target ? v.target(upstream.port) : CHAT,
      headers: [['Authorization', `Bearer ${token({ sub: userId })}`], ...(v.headers ?? [JSON_TYPE])],
      body: v.framed ? v.framed(body) : body,
    });
  }

  it.each(CASES)('$label: metered exactly as served, or refused unforwarded', async (c) => {
    const userId = `adv-${++n}`;
    const res = await answered(send(flag, c, userId, 'gpt-4o'));
    await flag.gateway.idle();
    await flag.gateway.flusher!.flushOnce();
    const served = upstream.servedTo(userId);
    const rows = await ledgerByMeter(flag.gateway.sql, userId);
    const observed = {
      status: res.status,
      forwarded: upstream.seenFrom(userId).map((s) => s.requestLine),
      served: { input: served.inputTokens, output: served.outputTokens },
      ledger: {
        input: rows.input_tokens?.amount ?? 0,
        output: rows.output_tokens?.amount ?? 0,
        tokens: rows.tokens?.amount ?? 0,
      },
    };
    const refused = isRefusal(res, observed.forwarded.length);
    observations.push({ case: c.label, gateway: 'flag', refused, ...observed });
    if (refused) {
      expect(observed.ledger).toEqual({ input: 0, output: 0, tokens: 0 });
      return;
    }
    expect(observed.status).toBeGreaterThan(0);
    expect(observed.ledger).toEqual({
      input: served.inputTokens,
      output: served.outputTokens,
      tokens: served.inputTokens + served.outputTokens,
    });
    for (const seen of upstream.seenFrom(userId))
      for (const name of c.variant.notForwarded ?? []) expect({ [name]: seen.headers[name] }).toEqual({});
    // The control must reach the upstream, or the comparison above proves nothing.
    if (c.variant.name === 'canonical') expect(served.calls).toBe(1);
  });

  // A provider bills a completion it generated whether or not the caller still listens; so must the meter.
  it('a client that hangs up before the upstream answered still pays for the completion it had generated', async () => {
    const userId = `adv-${++n}-hangup`;
    const body = Buffer.from(
      JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hang up' }] }),
    );
    const socket = net.connect(portOf(flag), '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.write(
      `POST ${CHAT} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token({ sub: userId })}\r\n` +
        `Content-Type: application/json\r\nX-Test-Generation-Ms: 300\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    socket.write(body);
    for (let i = 0; i < 200 && upstream.seenFrom(userId).length === 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(upstream.seenFrom(userId)).toHaveLength(1);
    socket.destroy();
    await upstream.whenServed(userId);
    await flag.gateway.idle();
    await flag.gateway.flusher!.flushOnce();
    const served = upstream.servedTo(userId);
    const rows = await ledgerByMeter(flag.gateway.sql, userId);
    observations.push({ case: 'hang up before the answer', gateway: 'flag', served, ledger: rows });
    expect({
      input: rows.input_tokens?.amount ?? 0,
      output: rows.output_tokens?.amount ?? 0,
    }).toEqual({ input: served.inputTokens, output: served.outputTokens });
  });

  it.each(CASES)('$label, unpriced model under unpricedModel: block: refused, never forwarded', async (c) => {
    const userId = `adv-block-${++n}`;
    const model = `unpriced-${n}`;
    const res = await answered(send(block, c, userId, model));
    const forwarded = upstream.seenFrom(userId).map((s) => s.requestLine);
    const observed = {
      status: res.status,
      refused: isRefusal(res, forwarded.length),
      upstreamSawModel: upstream.modelsSeen().includes(model),
      forwarded,
    };
    observations.push({ case: c.label, gateway: 'block', ...observed });
    expect(observed).toMatchObject({ refused: true, upstreamSawModel: false, forwarded: [] });
  });
});
