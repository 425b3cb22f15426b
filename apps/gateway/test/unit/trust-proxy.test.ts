import { normalisePeer, parseTrustProxy, trustedPeer, type ProxyRange } from '../../src/trust-proxy';

function ranges(value: string): ProxyRange[] {
  const parsed = parseTrustProxy(value);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
}

describe('TRUST_PROXY', () => {
  it('reads IPv4 and IPv6 addresses and CIDRs, comma separated', () => {
    expect(ranges(' 10.0.0.0/8, 192.168.1.7 ,fd00::/8,::1')).toEqual([
      { address: '10.0.0.0', family: 'ipv4', prefix: 8 },
      { address: '192.168.1.7', family: 'ipv4', prefix: 32 },
      { address: 'fd00::', family: 'ipv6', prefix: 8 },
      { address: '::1', family: 'ipv6', prefix: 128 },
    ]);
  });

  it.each([
    ['a name', 'proxy.internal', /is not an IPv4 or IPv6 address/],
    ['a bad address', '10.0.0.256', /is not an IPv4 or IPv6 address/],
    ['an IPv4 prefix over 32', '10.0.0.0/33', /from 0 to 32/],
    ['an IPv6 prefix over 128', 'fd00::/129', /from 0 to 128/],
    ['an empty prefix', '10.0.0.0/', /prefix length/],
    ['a zone id', 'fe80::1%eth0', /is not an IPv4 or IPv6 address/],
    ['no entry at all', ' , ', /at least one/],
  ])('refuses %s', (_name, value, message) => {
    expect(parseTrustProxy(value)).toEqual(expect.stringMatching(message));
  });

  it('matches peers inside the ranges only, IPv4-mapped IPv6 peers as IPv4', () => {
    const trusted = trustedPeer(ranges('10.0.0.0/8,192.168.1.7,fd00::/8,::1,::ffff:172.16.0.0/108'));
    const peers: Array<[string, boolean]> = [
      ['10.1.2.3', true],
      ['::ffff:10.1.2.3', true],
      ['11.0.0.1', false],
      ['192.168.1.7', true],
      ['192.168.1.8', false],
      ['fd12::1', true],
      ['fe80::1', false],
      ['::1', true],
      ['::2', false],
      ['172.16.5.5', true],
      ['172.32.0.1', false],
    ];
    expect(peers.map(([p]) => trusted(normalisePeer(p)))).toEqual(peers.map(([, t]) => t));
    expect(trusted(null)).toBe(false);
  });

  it('trusts nobody without ranges', () => {
    expect(trustedPeer([])('127.0.0.1')).toBe(false);
    expect(normalisePeer(undefined)).toBeNull();
    expect(normalisePeer('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(normalisePeer('::1')).toBe('::1');
  });
});
