import { canonicalTarget, isUnreadable, type UnreadableReason } from '@tollgate/core/internal';

/** The canonical target, or the reason it was refused. */
function read(target: string, lenient = false): string {
  const r = canonicalTarget(target, { lenient });
  return isUnreadable(r) ? `! ${r.reason}` : r;
}

describe('canonicalTarget', () => {
  it('returns an already-canonical target as the very same string', () => {
    for (const t of [
      '/',
      '/api/v1/chat/completions',
      '/api/x?q=%zz&a=..//b#',
      "/a-b_c~d.e/f:g@h!$&'()*+,;=|^[]",
    ]) {
      const trimmed = t.endsWith('#') ? t.slice(0, -1) : t;
      expect(canonicalTarget(trimmed)).toBe(trimmed);
    }
  });

  it.each([
    // Spelling that routers and lenient upstreams read as the same path.
    ['/api/v1/chat/completions#frag', '/api/v1/chat/completions'],
    ['/api/v1/chat/completions?x=1#frag', '/api/v1/chat/completions?x=1'],
    ['/api\\v1\\chat\\completions', '/api/v1/chat/completions'],
    ['\\api\\x', '/api/x'],
    ['//api//v1///x//', '/api/v1/x/'],
    ['/%61pi/%76%31/chat/%63ompletions', '/api/v1/chat/completions'],
    ['/%7e%2d%2E%5f%41%7A%30', '/~-._Az0'],
    ['/x/../api/y', '/api/y'],
    ['/a/./b/.', '/a/b/'],
    ['/a/b/..', '/a/'],
    ['/a/..', '/'],
    ['/a/%2e%2E/api', '/api'],
    ['/a/.%2e/api', '/api'],
    ['/a/%2e/api', '/a/api'],
    ['/a/...', '/a/...'],
    ['/a/..b', '/a/..b'],
    ['/api/v1/chat/completions/', '/api/v1/chat/completions/'],
    // Other escapes kept, hex upper-cased; the query kept as sent.
    ['/caf%c3%a9?q=%c3%a9', '/caf%C3%A9?q=%c3%a9'],
    ['/a%20b%3a%3F', '/a%20b%3A%3F'],
    ['/a?x=/../y//z&\\=%zz', '/a?x=/../y//z&\\=%zz'],
    // Raw bytes and the characters WHATWG escapes in a path.
    ['/caf\u00c3\u00a9', '/caf%C3%A9'],
    ['/a"<>`{}', '/a%22%3C%3E%60%7B%7D'],
    ['/\u20ac', '/%E2%82%AC'],
    // Absolute form: scheme and authority go, `\` ends the authority as WHATWG reads it.
    ['http://example.com/API/x?y=1#f', '/API/x?y=1'],
    ['https://u:p@h.example:8443//api', '/api'],
    ['http://h', '/'],
    ['http://h?q', '/?q'],
    ['http://h#f', '/'],
    ['HTTP://h\\api\\x', '/api/x'],
    ['*', '*'],
  ])('reads %j as %j', (target, canonical) => {
    expect(read(target)).toBe(canonical);
  });

  it.each<[string, UnreadableReason]>([
    ['api/x', 'not-origin-form'],
    ['', 'not-origin-form'],
    ['?x', 'not-origin-form'],
    ['http:/h/x', 'not-origin-form'],
    ['1http://h/x', 'not-origin-form'],
    ['/%E0%A4%A', 'malformed-escape'],
    ['/%zz', 'malformed-escape'],
    ['/a%', 'malformed-escape'],
    ['/a%4', 'malformed-escape'],
    ['/a%4?x=1', 'malformed-escape'],
    ['/%C0%AF', 'invalid-utf8'],
    ['/%C1%81', 'invalid-utf8'],
    ['/%E0%80%AF', 'invalid-utf8'],
    ['/%ED%A0%80', 'invalid-utf8'],
    ['/%F4%90%80%80', 'invalid-utf8'],
    ['/%E2%82', 'invalid-utf8'],
    ['/%E2%82/x', 'invalid-utf8'],
    ['/%FF', 'invalid-utf8'],
    ['/\u00e9', 'invalid-utf8'],
    ['/a\u0000b', 'control-character'],
    ['/a%00b', 'control-character'],
    ['/a%0Ab', 'control-character'],
    ['/a%7f', 'control-character'],
    ['/a b', 'control-character'],
    ['/a?b\tc', 'control-character'],
    ['/a\r\n', 'control-character'],
    ['/api%2Fv1', 'encoded-separator'],
    ['/api%2fv1', 'encoded-separator'],
    ['/api%5Cv1', 'encoded-separator'],
    ['/..', 'above-root'],
    ['/../api/x', 'above-root'],
    ['/a/../../api', 'above-root'],
    ['/%2e%2e/api', 'above-root'],
    ['http://h/../api', 'above-root'],
  ])('refuses %j (%s)', (target, reason) => {
    expect(read(target)).toBe(`! ${reason}`);
  });

  it('reads what strict mode refuses as the most lenient router would, when asked to', () => {
    expect(read('/api%2Fv1%5cx', true)).toBe('/api/v1/x');
    expect(read('/../api/x', true)).toBe('/api/x');
    expect(read('/api/%zz/x%', true)).toBe('/api/%zz/x%');
    expect(read('/api/%C0%AF', true)).toBe('/api/%C0%AF');
    expect(read('/a%00', true)).toBe('! control-character');
    expect(read('api', true)).toBe('! not-origin-form');
  });

  it('gives canonical targets back unchanged (reading twice changes nothing)', () => {
    for (const t of ['/caf%c3%a9?q', '//a/./b/../c/', 'http://h/%61%2e%2E/x', '/a"b', '/x\\y#z'])
      expect(read(read(t))).toBe(read(t));
  });
});
