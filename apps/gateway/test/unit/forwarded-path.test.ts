import { canonicalPrefix, stripPrefix, upstreamTarget } from '../../src/forwarded-path';

describe('the forwarded path', () => {
  it('strips STRIP_PREFIX segment-wise and in any case, as routing matches it', () => {
    const prefix = canonicalPrefix('/api');
    expect(
      ['/api/v1/x', '/API/v1/x', '/Api', '/api?q=1', '/apix', '/v1/api/x', '/api/'].map((t) =>
        stripPrefix(t, prefix),
      ),
    ).toEqual(['/v1/x', '/v1/x', '/', '/?q=1', '/apix', '/v1/api/x', '/']);
    expect(stripPrefix('/api/x', null)).toBe('/api/x');
  });

  it('compares against the canonical prefix', () => {
    expect(canonicalPrefix('/API/V1')).toBe('/api/v1');
    expect(canonicalPrefix('/%61pi//v1')).toBe('/api/v1');
    expect(canonicalPrefix(null)).toBeNull();
    expect(stripPrefix('/api/v1/chat', canonicalPrefix('/Api/V1'))).toBe('/chat');
  });

  it("puts the target under the upstream URL's path", () => {
    expect(upstreamTarget(new URL('http://up:8080'), '/v1/x?q')).toBe('/v1/x?q');
    expect(upstreamTarget(new URL('http://up/base/'), '/v1/x')).toBe('/base/v1/x');
    expect(upstreamTarget(new URL('http://up/base'), '/')).toBe('/base/');
  });
});
