import { decodableAcceptEncoding } from '../../src/accept-encoding';

describe('the Accept-Encoding sent upstream', () => {
  it.each([
    [undefined, 'identity'],
    ['', 'identity'],
    ['zstd', 'identity'],
    ['*', 'identity'],
    ['compress, zstd;q=1', 'identity'],
    ['gzip, deflate, br, zstd', 'gzip, deflate, br'],
    ['GZIP;Q=0.5, zstd, br;q=0.8, *;q=0.1', 'gzip;q=0.5, br;q=0.8'],
    ['x-gzip, identity;q=0', 'x-gzip, identity;q=0'],
    ['gzip;q=0, identity;q=0', 'identity'],
    ['gzip;q=2, br', 'br'],
    ['gzip;level=9;q=0.3', 'gzip;q=0.3'],
    [['gzip', 'zstd, br'], 'gzip, br'],
  ])('%j becomes %j', (client, upstream) => {
    expect(decodableAcceptEncoding(client)).toBe(upstream);
  });
});
