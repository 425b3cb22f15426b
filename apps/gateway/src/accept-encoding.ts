// The Accept-Encoding sent upstream: only codings the gateway can decode, so every response it meters is readable.

/** Response codings the gateway's readers decode (x-gzip is gzip's old name). */
const DECODABLE: ReadonlySet<string> = new Set(['gzip', 'x-gzip', 'deflate', 'br', 'identity']);

/**
 * The client's Accept-Encoding without the codings the gateway could not read (zstd, compress,
 * `*`, anything unknown), q-values kept (a malformed one drops its coding). `identity` when
 * nothing acceptable is left, or the client sent none: an absent header would let the upstream
 * pick any coding (RFC 9110 §12.5.3).
 */
export function decodableAcceptEncoding(value: string | string[] | undefined): string {
  const text = Array.isArray(value) ? value.join(',') : (value ?? '');
  const kept: string[] = [];
  let acceptable = false;
  for (const item of text.split(',')) {
    const [name = '', ...params] = item.split(';').map((p) => p.trim());
    const coding = name.toLowerCase();
    if (!DECODABLE.has(coding)) continue;
    let q = 1;
    let ok = true;
    for (const p of params) {
      const m = /^q\s*=\s*(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/i.exec(p);
      if (m) q = Number(m[1]);
      else if (/^q\s*=/i.test(p)) ok = false;
    }
    if (!ok) continue;
    kept.push(q === 1 ? coding : `${coding};q=${q}`);
    if (q > 0) acceptable = true;
  }
  return acceptable ? kept.join(', ') : 'identity';
}
