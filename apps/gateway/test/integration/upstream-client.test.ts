// The gateway's upstream client: connections reused, bodies streamed as sent, 1xx, HEAD and repeated headers.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { MemoryStore } from '@tollgate/core';
import { createTestDatabase, freePort } from '../../../../test-support/services';
import { SECRET, startGateway, token, type RunningGateway } from '../support/kit';
import { TEST_TLS_CERT, TEST_TLS_KEY } from '../support/tls-cert';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  socket: number;
}

/** An upstream that records each request (and the client port of its connection) and answers by path. */
async function startUpstream(): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body,
        socket: req.socket.remotePort!,
      });
      if (req.url === '/api/early-hints') {
        res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('after the hints');
        return;
      }
      if (req.url === '/api/repeated') {
        res.setHeader('x-multi', ['a', 'b']);
        res.setHeader('set-cookie', ['one=1', 'two=2']);
        res.end('ok');
        return;
      }
      if (req.method === 'HEAD') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1234' });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One request through a keep-alive agent; `parts` are written one by one (chunked when no length is set). */
function send(
  base: string,
  o: { method: string; path: string; headers?: Record<string, string>; parts?: Buffer[]; agent?: http.Agent },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}${o.path}`,
      { method: o.method, headers: o.headers, agent: o.agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on('error', reject);
    const parts = o.parts ?? [];
    const next = (i: number) => {
      if (i === parts.length) return void req.end();
      req.write(parts[i]);
      setTimeout(() => next(i + 1), 5);
    };
    next(0);
  });
}

describe('the upstream client', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let gw: RunningGateway;
  let db: { url: string; drop: () => Promise<void> };
  const auth = { authorization: `Bearer ${token({ sub: 'u-client', tenant_id: 'client-co' })}` };

  beforeAll(async () => {
    upstream = await startUpstream();
    db = await createTestDatabase('gw_upstream_client');
    gw = await startGateway(
      { UPSTREAM_URL: upstream.url, DATABASE_URL: db.url, FLUSHER: 'off' },
      { store: new MemoryStore() },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
    await db?.drop();
  });

  beforeEach(() => upstream.seen.splice(0));

  it('sends one request after another over one kept-alive upstream connection', async () => {
    const agent = new http.Agent({ keepAlive: true });
    for (let i = 0; i < 5; i++) {
      const res = await send(gw.url, { method: 'GET', path: `/api/n/${i}`, headers: auth, agent });
      expect(res.status).toBe(200);
    }
    agent.destroy();
    expect(upstream.seen.map((s) => s.url)).toEqual([0, 1, 2, 3, 4].map((i) => `/api/n/${i}`));
    expect(new Set(upstream.seen.map((s) => s.socket)).size).toBe(1);
  });

  it('streams a chunked request body upstream as sent, still chunked', async () => {
    const parts = [Buffer.from('first,'), Buffer.alloc(70_000, 0x61), Buffer.from(',last')];
    const res = await send(gw.url, {
      method: 'POST',
      path: '/api/upload',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      parts,
    });
    expect(res.status).toBe(200);
    const sent = Buffer.concat(parts);
    expect(res.body.equals(sent)).toBe(true);
    const [seen] = upstream.seen;
    expect(seen?.body.equals(sent)).toBe(true);
    expect(seen?.headers['transfer-encoding']).toBe('chunked');
    expect(seen?.headers['content-length']).toBeUndefined();
  });

  it('sends a body of known length with its Content-Length', async () => {
    const body = Buffer.from('{"not":"an llm call"}');
    const res = await send(gw.url, {
      method: 'PUT',
      path: '/api/thing',
      headers: { ...auth, 'content-type': 'application/json', 'content-length': String(body.length) },
      parts: [body],
    });
    expect(res.status).toBe(200);
    expect(upstream.seen[0]?.headers['content-length']).toBe(String(body.length));
    expect(upstream.seen[0]?.body.equals(body)).toBe(true);
  });

  it('answers with the final response after an upstream 1xx', async () => {
    const res = await send(gw.url, { method: 'GET', path: '/api/early-hints', headers: auth });
    expect({ status: res.status, body: res.body.toString() }).toEqual({
      status: 200,
      body: 'after the hints',
    });
  });

  it('passes a HEAD answer with its length and no body', async () => {
    const res = await send(gw.url, { method: 'HEAD', path: '/api/thing', headers: auth });
    expect(upstream.seen[0]?.method).toBe('HEAD');
    expect({ status: res.status, length: res.headers['content-length'], body: res.body.length }).toEqual({
      status: 200,
      length: '1234',
      body: 0,
    });
  });

  it('passes repeated response headers as Node presents them: joined, and Set-Cookie one by one', async () => {
    const res = await send(gw.url, { method: 'GET', path: '/api/repeated', headers: auth });
    expect(res.headers['x-multi']).toBe('a, b');
    expect(res.headers['set-cookie']).toEqual(['one=1', 'two=2']);
  });
});

describe('the upstream client over HTTPS (a gateway process trusting the CA in NODE_EXTRA_CA_CERTS)', () => {
  const ROOT = path.resolve(__dirname, '../../../..');
  const seen: Array<{ url: string; host: string | undefined }> = [];
  const tls = https.createServer({ key: TEST_TLS_KEY, cert: TEST_TLS_CERT }, (req, res) => {
    seen.push({ url: req.url!, host: req.headers.host });
    res.end('secure');
  });
  let db: { url: string; drop: () => Promise<void> };
  let child: ReturnType<typeof spawn> | undefined;
  let url = '';
  let tlsPort = 0;

  beforeAll(async () => {
    execFileSync(
      'npx',
      ['turbo', 'run', 'build', '--filter=@tollgate/gateway...', '--output-logs=errors-only'],
      {
        cwd: ROOT,
        stdio: 'ignore',
      },
    );
    await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
    tlsPort = (tls.address() as AddressInfo).port;
    db = await createTestDatabase('gw_upstream_tls');
    const ca = path.join(mkdtempSync(path.join(tmpdir(), 'gw-ca-')), 'ca.pem');
    writeFileSync(ca, TEST_TLS_CERT);
    const port = await freePort();
    child = spawn(process.execPath, [path.join(ROOT, 'apps/gateway/dist/main.js')], {
      cwd: ROOT,
      env: {
        ...process.env,
        NODE_EXTRA_CA_CERTS: ca,
        JWT_SECRET: SECRET,
        UPSTREAM_URL: `https://127.0.0.1:${tlsPort}/base/`,
        DATABASE_URL: db.url,
        FLUSHER: 'off',
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
      },
      stdio: 'ignore',
    });
    url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 200; i++) {
      const ok = await fetch(`${url}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('gateway process not ready');
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await new Promise<void>((r) => tls.close(() => r()));
    await db?.drop();
  });

  it('reaches the upstream under its URL path, verified, with the upstream host as Host', async () => {
    const auth = { authorization: `Bearer ${token({ sub: 'u-tls', tenant_id: 'tls-co' })}` };
    const res = await send(url, { method: 'GET', path: '/api/x/y?q=a%20b', headers: auth });
    expect({ status: res.status, body: res.body.toString() }).toEqual({ status: 200, body: 'secure' });
    expect(seen).toEqual([{ url: '/base/api/x/y?q=a%20b', host: `127.0.0.1:${tlsPort}` }]);
  });
});
