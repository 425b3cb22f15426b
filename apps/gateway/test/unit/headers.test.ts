import type { IncomingHttpHeaders } from 'node:http';
import { verifyIdentitySignature } from '@tollgate/http';
import {
  clientResponseHeaders,
  connectionListed,
  droppedHeaders,
  isGatewayOwned,
  setForwardedIdentity,
  forwardedSignature,
} from '../../src/headers';

describe('header hygiene', () => {
  it('drops hop-by-hop headers and those the Connection header names, never Host', () => {
    const drop = droppedHeaders({ connection: 'keep-alive, X-Secret, host', 'x-secret': '1' });
    expect([...drop]).toEqual(
      expect.arrayContaining([
        'connection',
        'keep-alive',
        'transfer-encoding',
        'upgrade',
        'te',
        'trailer',
        'x-secret',
      ]),
    );
    expect(drop.has('host')).toBe(false);
    expect(connectionListed(['close', 'X-A,  x-b'])).toEqual(['x-a', 'x-b']);
  });

  it('replaces client identity headers with the verified identity, omitting missing claims', () => {
    const h: IncomingHttpHeaders = {
      'x-user-id': 'mallory, admin',
      'x-tenant-id': 'other',
      'x-user-role': 'admin',
      'x-api-key-id': 'k-stolen',
      'x-tollgate-signature': 't=1,v1=00',
      authorization: 'Bearer client-jwt',
      'x-request-id': 'spoofed',
    };
    setForwardedIdentity(
      h,
      { userId: 'alice', tenantId: null, tier: 'pro', email: null, role: null },
      null,
      'rid-1',
    );
    expect(h).toEqual({ 'x-user-id': 'alice', 'x-user-tier': 'pro', 'x-request-id': 'rid-1' });
  });

  const owned = [
    'X-User-Id',
    'X-Tenant-Id',
    'X-User-Tier',
    'X-User-Email',
    'X-User-Role',
    'X-Api-Key-Id',
    'X-Tollgate-Signature',
    'Authorization',
    'X-Request-Id',
  ];
  /** Every spelling of `name` with each `-` as `-` or `_`, in lower, upper and the given case. */
  function spellings(name: string): string[] {
    const parts = name.split('-');
    let out = [parts[0]!];
    for (const part of parts.slice(1)) out = out.flatMap((s) => [`${s}-${part}`, `${s}_${part}`]);
    return out.flatMap((s) => [s, s.toLowerCase(), s.toUpperCase()]);
  }

  it.each(owned)('drops every case and underscore spelling of %s going upstream', (name) => {
    const names = spellings(name);
    expect(names.every((n) => isGatewayOwned(n))).toBe(true);
    // Node lower-cases incoming names: that is what the step sees.
    const h: IncomingHttpHeaders = Object.fromEntries(names.map((n) => [n.toLowerCase(), 'spoofed']));
    h['x-kept'] = 'yes';
    h['x-user-idx'] = 'not an identity header';
    setForwardedIdentity(
      h,
      { userId: null, tenantId: 't', tier: null, email: null, role: null },
      null,
      'rid',
    );
    expect(h).toEqual({
      'x-tenant-id': 't',
      'x-request-id': 'rid',
      'x-kept': 'yes',
      'x-user-idx': 'not an identity header',
    });
  });

  it('forwards non-ASCII claims percent-encoded, as printable ASCII only', () => {
    const h: IncomingHttpHeaders = {};
    setForwardedIdentity(
      h,
      { userId: 'büro 100%', tenantId: '租户', tier: 'pro', email: 'user@例え.jp', role: null },
      null,
      'rid',
    );
    expect(h).toMatchObject({
      'x-user-id': 'b%C3%BCro 100%25',
      'x-tenant-id': '%E7%A7%9F%E6%88%B7',
      'x-user-email': 'user@%E4%BE%8B%E3%81%88.jp',
    });
  });

  it('signs the identity for the method and path the upstream request carries, and sets the upstream credentials', () => {
    const h: IncomingHttpHeaders = { authorization: 'Bearer client-jwt' };
    const id = { userId: 'alice', tenantId: 'acme', tier: 'free', email: 'a@x.io', role: 'member' };
    setForwardedIdentity(h, id, 'Bearer sk-upstream', 'rid');
    expect(h.authorization).toBe('Bearer sk-upstream');
    const sig = forwardedSignature('signing-secret-0123456789', id, { method: 'POST', path: '/v1/chat?x=1' });
    const verify = (method: string, path: string) =>
      verifyIdentitySignature('signing-secret-0123456789', sig, id, { method, path }).ok;
    expect([
      verify('POST', '/v1/chat?x=1'),
      verify('GET', '/v1/chat?x=1'),
      verify('POST', '/v1/chat'),
    ]).toEqual([true, false, false]);
  });

  it('passes response headers except hop-by-hop and Connection-listed ones', () => {
    const out = clientResponseHeaders({
      connection: 'x-hop',
      'x-hop': 'no',
      'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked',
      'content-type': 'text/plain',
      'set-cookie': ['a=1', 'b=2'],
    });
    expect(out).toEqual([
      ['content-type', 'text/plain'],
      ['set-cookie', ['a=1', 'b=2']],
    ]);
  });
});
