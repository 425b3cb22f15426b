// An upstream that answers with bombs, endless lines, absurd usage and broken bodies: the client gets every byte,
// the gateway stays up with bounded memory, and the ledger holds a sane estimated count.
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { createTestDatabase, REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { METERED_CONFIG, startGateway, token, type RunningGateway } from '../support/kit';

const MiB = 1024 * 1024;
const MAX_BODY_BYTES = 4 * MiB;
const PROMPT = 'z'.repeat(40);
/** The prompt's estimate: ceil(40 / 4). */
const PROMPT_TOKENS = 10;

/** What the upstream wrote for one answer: its bytes' hash and length, and the same for what a client should see. */
interface Sent {
  sha: string;
  length: number;
}

type Answer = (res: http.ServerResponse) => Promise<Sent>;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Concatenated gzip members decode as one body: one ~1 KB member of 1 MiB repeated makes a bomb cheaply. */
function gzipBomb(head: string, mib: number, tail = ''): Buffer {
  const filler = gzipSync(Buffer.alloc(MiB, 'a'));
  const members = [gzipSync(Buffer.from(head))];
  for (let i = 0; i < mib; i++) members.push(filler);
  if (tail) members.push(gzipSync(Buffer.from(tail)));
  return Buffer.concat(members);
}

async function writeAll(res: http.ServerResponse, parts: Buffer[]): Promise<void> {
  for (const p of parts) if (!res.write(p)) await new Promise((r) => res.once('drain', r));
  await new Promise<void>((r) => res.end(r));
}

/** Waits for the socket to take more, or to be gone. */
function drainOrClose(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const go = () => {
      res.off('drain', go);
      res.off('close', go);
      resolve();
    };
    res.on('drain', go);
    res.on('close', go);
  });
}

function send(status: number, headers: Record<string, string>, body: Buffer): Answer {
  return async (res) => {
    res.writeHead(status, headers);
    await writeAll(res, [body]);
    return { sha: sha(body), length: body.length };
  };
}

const SSE = { 'content-type': 'text/event-stream' };
const JSON_TYPE = { 'content-type': 'application/json' };
const USAGE_EVENT = 'data: {"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3}}\n\n';

/** `data: ` then `mib` MiB without a line end, then a blank line, the usage-only chunk and [DONE]. */
function endlessLine(mib: number, visible: { sha: string; length: number } | null): Answer {
  return async (res) => {
    res.writeHead(200, SSE);
    const all = createHash('sha256');
    const shown = createHash('sha256');
    let length = 0;
    let shownLength = 0;
    const piece = Buffer.alloc(64 * 1024, 'a');
    const emit = async (b: Buffer, hidden = false) => {
      all.update(b);
      length += b.length;
      if (!hidden) {
        shown.update(b);
        shownLength += b.length;
      }
      if (!res.write(b)) await new Promise((r) => res.once('drain', r));
    };
    await emit(Buffer.from('data: '));
    for (let sent = 0; sent < mib * MiB; sent += piece.length) await emit(piece);
    await emit(Buffer.from('\n\n'));
    await emit(Buffer.from(USAGE_EVENT), true);
    await emit(Buffer.from('data: [DONE]\n\n'));
    await new Promise<void>((r) => res.end(r));
    if (visible) {
      visible.sha = shown.digest('hex');
      visible.length = shownLength;
    }
    return { sha: all.digest('hex'), length };
  };
}

const hugeModel = 'm'.repeat(200_000);
const absurdJson = Buffer.from(
  JSON.stringify({
    model: hugeModel,
    choices: [{ message: { content: 'abcdefgh' } }],
    usage: { prompt_tokens: 1e300, completion_tokens: 2 ** 60 },
  }),
);
const absurdSse = Buffer.from(
  [
    `data: {"model":"gpt-4o\\u0000x","choices":[{"delta":{"content":"abcdefgh"}}]}\n\n`,
    'data: {"choices":[],"usage":{"prompt_tokens":-5,"completion_tokens":"12"}}\n\n',
    'data: [DONE]\n\n',
  ].join(''),
);
const invalidJson = Buffer.from('{"choices":[{"message":{"content":"abcdefgh');
const fullJson = Buffer.from(
  JSON.stringify({
    model: 'gpt-4o',
    choices: [{ message: { content: 'x'.repeat(4000) } }],
    usage: { prompt_tokens: 11, completion_tokens: 1000 },
  }),
);
const truncatedGzip = gzipSync(fullJson).subarray(0, 60);

describe('a hostile upstream', () => {
  let upstream: http.Server;
  let upstreamUrl = '';
  const answers = new Map<string, Answer>();
  const sent = new Map<string, Promise<Sent>>();
  let gw: RunningGateway;
  let db: { url: string; drop: () => Promise<void> };
  /** Filled in by the endless-line answer for a filtered stream: the bytes minus the usage-only chunk. */
  const filteredView = { sha: '', length: 0 };

  beforeAll(async () => {
    answers.set('sse-bomb', send(200, { ...SSE, 'content-encoding': 'gzip' }, gzipBomb('data: ', 600)));
    answers.set(
      'json-bomb',
      send(
        200,
        { ...JSON_TYPE, 'content-encoding': 'gzip' },
        gzipBomb('{"choices":[{"message":{"content":"', 600, '"}}],"usage":{"prompt_tokens":1}}'),
      ),
    );
    answers.set('endless-line', endlessLine(50, null));
    // Up to 200 MB of one JSON string: `sha` says whether the gateway dropped the connection before its end.
    answers.set('json-abort', async (res) => {
      res.writeHead(200, JSON_TYPE);
      let closed = false;
      res.on('close', () => (closed = true));
      res.write('{"choices":[{"message":{"content":"');
      const piece = Buffer.alloc(64 * 1024, 'a');
      let length = 0;
      for (let i = 0; i < 3200 && !closed; i++) {
        if (!res.write(piece)) await drainOrClose(res);
        length += piece.length;
      }
      res.end();
      return { sha: closed ? 'abandoned' : 'finished', length };
    });
    answers.set('endless-line-filtered', endlessLine(50, filteredView));
    answers.set('absurd-json', send(200, JSON_TYPE, absurdJson));
    answers.set('absurd-sse', send(200, SSE, absurdSse));
    answers.set('invalid-json', send(200, JSON_TYPE, invalidJson));
    answers.set('truncated-gzip', send(200, { ...JSON_TYPE, 'content-encoding': 'gzip' }, truncatedGzip));
    answers.set(
      'gzip-trailing-garbage',
      send(
        200,
        { ...JSON_TYPE, 'content-encoding': 'gzip' },
        Buffer.concat([gzipSync(fullJson), Buffer.from('trailing garbage')]),
      ),
    );
    answers.set(
      'brotli-garbage',
      send(200, { ...JSON_TYPE, 'content-encoding': 'br' }, Buffer.from('no brotli here, only words')),
    );

    upstream = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const name = String(req.headers['x-hostile']);
        const answer = answers.get(name);
        if (!answer) return res.writeHead(404).end();
        sent.set(name, answer(res));
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    db = await createTestDatabase('gw_hostile');
    gw = await startGateway(
      {
        UPSTREAM_URL: upstreamUrl,
        STRIP_PREFIX: '/api',
        REDIS_URL,
        REDIS_PREFIX: uniquePrefix('gw-hostile'),
        DATABASE_URL: db.url,
        FLUSHER: 'inline',
        FLUSH_INTERVAL_MS: '600000',
        MAX_BODY_BYTES: String(MAX_BODY_BYTES),
        MAX_RESPONSE_JSON_BYTES: String(MAX_BODY_BYTES),
      },
      { config: METERED_CONFIG },
    );
  });

  afterAll(async () => {
    await gw?.close();
    upstream?.closeAllConnections();
    await new Promise((r) => upstream?.close(r));
    await db?.drop();
  });

  /**
   * One chat call answered by the named upstream answer, read raw (no decoding) and hashed as it
   * arrives; the test process's RSS is sampled meanwhile. `includeUsage` false makes the gateway
   * filter the stream.
   */
  async function call(name: string, opts: { stream: boolean; includeUsage?: boolean; abortAfter?: number }) {
    const userId = `u-${name}`;
    const body = JSON.stringify({
      model: 'gpt-4o',
      max_tokens: 50,
      messages: [{ role: 'user', content: PROMPT }],
      ...(opts.stream ? { stream: true } : {}),
      ...(opts.stream && opts.includeUsage !== false ? { stream_options: { include_usage: true } } : {}),
    });
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
    try {
      const got = await new Promise<{ status: number; sha: string; length: number }>((resolve, reject) => {
        const req = http.request(
          `${gw.url}/api/v1/chat/completions`,
          {
            method: 'POST',
            headers: {
              authorization: `Bearer ${token({ sub: userId, tenant_id: 't-hostile' })}`,
              'content-type': 'application/json',
              'x-hostile': name,
            },
          },
          (res) => {
            const hash = createHash('sha256');
            let length = 0;
            const done = () => resolve({ status: res.statusCode!, sha: hash.digest('hex'), length });
            res.on('data', (c: Buffer) => {
              hash.update(c);
              length += c.length;
              if (opts.abortAfter !== undefined && length >= opts.abortAfter) req.destroy();
            });
            if (opts.abortAfter !== undefined) res.on('close', done);
            else res.on('end', done);
            res.on('error', opts.abortAfter !== undefined ? () => undefined : reject);
          },
        );
        req.on('error', opts.abortAfter !== undefined ? () => undefined : reject);
        req.end(body);
      });
      const upstreamSent = await sent.get(name)!;
      peak = Math.max(peak, process.memoryUsage().rss);
      return { ...got, sent: upstreamSent, rssGrowth: peak - before, userId };
    } finally {
      clearInterval(sampler);
    }
  }

  /** The user's ledger rows by meter, once flushed: amount, whether every row is estimated, the models. */
  async function ledger(userId: string) {
    await gw.gateway.idle();
    await gw.gateway.flusher!.flushOnce();
    const res = await gw.gateway.sql.query<{
      meter: string;
      amount: string;
      estimated: boolean;
      models: string;
    }>(
      `SELECT meter, sum(amount)::text AS amount, bool_and(estimated) AS estimated,
              coalesce(string_agg(DISTINCT model, ','), '') AS models
         FROM usage_ledger WHERE user_id = $1 GROUP BY meter`,
      [userId],
    );
    const out: Record<string, { amount: number; estimated: boolean; models: string }> = {};
    for (const r of res.rows)
      out[r.meter] = { amount: Number(r.amount), estimated: r.estimated, models: r.models };
    return out;
  }

  async function expectUp() {
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
  }

  it('passes a gzip bomb stream (one ~600 MB line, ~600 KB on the wire) and settles the input as estimated', async () => {
    const r = await call('sse-bomb', { stream: true });
    expect(r.status).toBe(200);
    expect({ sha: r.sha, length: r.length }).toEqual(r.sent);
    expect(r.sent.length).toBeLessThan(MiB);
    expect(r.rssGrowth).toBeLessThan(100 * MiB);
    await expectUp();
    const rows = await ledger(r.userId);
    // Nothing of the line was text it read: the prompt's estimate, no output, the reservation's 50 undone.
    expect(rows.input_tokens).toEqual({ amount: PROMPT_TOKENS, estimated: true, models: 'openai/gpt-4o' });
    expect(rows.output_tokens).toBeUndefined();
    expect(rows.tokens?.amount).toBe(PROMPT_TOKENS);
  });

  it('passes a gzip bomb JSON body and estimates it from the capped bytes it read', async () => {
    const r = await call('json-bomb', { stream: false });
    expect(r.status).toBe(200);
    expect({ sha: r.sha, length: r.length }).toEqual(r.sent);
    expect(r.rssGrowth).toBeLessThan(100 * MiB);
    await expectUp();
    const rows = await ledger(r.userId);
    // Read up to MAX_BODY_BYTES decoded characters, no further: 4 MiB / 4 tokens of output at most.
    expect(rows.output_tokens).toEqual({
      amount: MAX_BODY_BYTES / 4,
      estimated: true,
      models: 'openai/gpt-4o',
    });
    expect(rows.input_tokens).toEqual({ amount: PROMPT_TOKENS, estimated: true, models: 'openai/gpt-4o' });
  });

  it('drops a JSON body past its read cap once the client left, and settles what it read', async () => {
    const r = await call('json-abort', { stream: false, abortAfter: 2 * MAX_BODY_BYTES });
    expect(r.status).toBe(200);
    // The old rule read a JSON body to its end without the client: 200 MB here, for nothing past the cap.
    expect(r.sent.sha).toBe('abandoned');
    await expectUp();
    const rows = await ledger(r.userId);
    expect(rows.output_tokens).toEqual({
      amount: MAX_BODY_BYTES / 4,
      estimated: true,
      models: 'openai/gpt-4o',
    });
  });

  it('streams a 50 MB line without a line end through, and reads the usage after it', async () => {
    const r = await call('endless-line', { stream: true });
    expect(r.status).toBe(200);
    expect({ sha: r.sha, length: r.length }).toEqual(r.sent);
    expect(r.rssGrowth).toBeLessThan(100 * MiB);
    await expectUp();
    const rows = await ledger(r.userId);
    // The parser skipped the line and found the usage chunk at the next blank line.
    expect(rows.input_tokens).toEqual({ amount: 7, estimated: false, models: 'openai/gpt-4o' });
    expect(rows.output_tokens).toEqual({ amount: 3, estimated: false, models: 'openai/gpt-4o' });
  });

  it('passes a 50 MB line unfiltered to a client that did not ask for usage, and still hides the usage chunk', async () => {
    const r = await call('endless-line-filtered', { stream: true, includeUsage: false });
    expect(r.status).toBe(200);
    expect({ sha: r.sha, length: r.length }).toEqual(filteredView);
    expect(r.length).toBe(r.sent.length - USAGE_EVENT.length);
    expect(r.rssGrowth).toBeLessThan(100 * MiB);
    await expectUp();
    expect((await ledger(r.userId)).output_tokens).toEqual({
      amount: 3,
      estimated: false,
      models: 'openai/gpt-4o',
    });
  });

  it('takes absurd usage numbers and a 200,000-character model as not reported, in JSON and in a stream', async () => {
    for (const [name, stream] of [
      ['absurd-json', false],
      ['absurd-sse', true],
    ] as const) {
      const r = await call(name, { stream });
      expect(r.status).toBe(200);
      expect({ sha: r.sha, length: r.length }).toEqual(r.sent);
      await expectUp();
      const rows = await ledger(r.userId);
      // Estimated from the characters (8 of output), priced as the request's model.
      expect(rows.input_tokens).toEqual({ amount: PROMPT_TOKENS, estimated: true, models: 'openai/gpt-4o' });
      expect(rows.output_tokens).toEqual({ amount: 2, estimated: true, models: 'openai/gpt-4o' });
    }
    const models = await gw.gateway.sql.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM usage_ledger WHERE length(coalesce(model, '')) > 256`,
    );
    expect(models.rows[0]!.n).toBe('0');
  });

  it.each([
    ['invalid-json', Math.ceil(invalidJson.length / 4)],
    ['brotli-garbage', 0],
  ])('passes %s through and settles it as an estimate', async (name, output) => {
    const r = await call(name, { stream: false });
    expect(r.status).toBe(200);
    expect({ sha: r.sha, length: r.length }).toEqual(r.sent);
    await expectUp();
    const rows = await ledger(r.userId);
    expect(rows.input_tokens).toEqual({ amount: PROMPT_TOKENS, estimated: true, models: 'openai/gpt-4o' });
    expect(rows.output_tokens?.amount ?? 0).toBe(output);
  });

  it.each(['truncated-gzip', 'gzip-trailing-garbage'])(
    'passes %s through and estimates no more than the body held',
    async (name) => {
      const r = await call(name, { stream: false });
      expect(r.status).toBe(200);
      expect({ sha: r.sha, length: r.length }).toEqual(r.sent);
      await expectUp();
      const rows = await ledger(r.userId);
      // The decoder fails: what it decoded before is all that is known (zlib may hand out none of it).
      expect(rows.input_tokens).toEqual({ amount: PROMPT_TOKENS, estimated: true, models: 'openai/gpt-4o' });
      expect(rows.output_tokens?.estimated ?? true).toBe(true);
      expect(rows.output_tokens?.amount ?? 0).toBeLessThan(fullJson.length / 4);
    },
  );
});
