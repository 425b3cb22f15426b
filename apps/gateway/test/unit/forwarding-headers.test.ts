import type { IncomingHttpHeaders } from 'node:http';
import { setForwardingHeaders, type Peer } from '../../src/forwarding-headers';

const CLIENT: IncomingHttpHeaders = {
  host: 'api.example.com',
  forwarded: 'for=1.2.3.4;proto=https',
  'x-forwarded-for': '1.2.3.4, 5.6.7.8',
  'x-forwarded-host': 'evil.example.com',
  'x-forwarded-proto': 'https',
  'x-forwarded-port': '443',
  'x-forwarded-prefix': '/admin',
  'x-real-ip': '1.2.3.4',
  x_forwarded_for: '9.9.9.9',
  'x-forwarded_host': 'evil2.example.com',
  x_real_ip: '9.9.9.9',
  'x-kept': 'yes',
};

function forwarded(peer: Peer, headers: IncomingHttpHeaders = CLIENT): IncomingHttpHeaders {
  const h = { ...headers };
  setForwardingHeaders(h, peer);
  return h;
}

describe('forwarding headers', () => {
  it("drops every client forwarding header from an untrusted peer and describes the peer's own connection", () => {
    expect(forwarded({ address: '203.0.113.9', trusted: false, encrypted: false })).toEqual({
      host: 'api.example.com',
      'x-kept': 'yes',
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-host': 'api.example.com',
      'x-forwarded-proto': 'http',
    });
    expect(forwarded({ address: '203.0.113.9', trusted: false, encrypted: true })['x-forwarded-proto']).toBe(
      'https',
    );
  });

  it("keeps a trusted proxy's headers, appends the peer to its chain, never keeps underscore look-alikes", () => {
    expect(forwarded({ address: '10.0.0.2', trusted: true, encrypted: false })).toEqual({
      host: 'api.example.com',
      forwarded: 'for=1.2.3.4;proto=https',
      'x-forwarded-for': '1.2.3.4, 5.6.7.8, 10.0.0.2',
      'x-forwarded-host': 'evil.example.com',
      'x-forwarded-proto': 'https',
      'x-forwarded-port': '443',
      'x-forwarded-prefix': '/admin',
      'x-real-ip': '1.2.3.4',
      'x-kept': 'yes',
    });
  });

  it('falls back to its own values when a trusted proxy sent none or nonsense', () => {
    const h = forwarded(
      { address: '10.0.0.2', trusted: true, encrypted: false },
      { host: 'h.example', 'x-forwarded-proto': 'gopher' },
    );
    expect(h).toEqual({
      host: 'h.example',
      'x-forwarded-for': '10.0.0.2',
      'x-forwarded-host': 'h.example',
      'x-forwarded-proto': 'http',
    });
  });

  it('omits what it does not know: no peer address, no Host', () => {
    expect(
      forwarded({ address: null, trusted: false, encrypted: false }, { 'x-forwarded-for': '1.1.1.1' }),
    ).toEqual({
      'x-forwarded-proto': 'http',
    });
  });
});
