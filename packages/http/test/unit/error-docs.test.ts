// Every ErrorCode has a section in docs/error-codes.md, and the links errors carry point at an anchor that exists.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, ErrorCode, TollgateError, errorDocsUrl } from '@tollgate/core';
import { ERROR_DOCS_URL } from '@tollgate/core/internal';
import { safeLog } from '../../src/logger';

const PAGE = readFileSync(path.resolve(__dirname, '../../../../docs/error-codes.md'), 'utf8');

/** GitHub's heading anchors: lower case, punctuation other than `-` and `_` dropped, spaces as `-`. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const [, heading] of markdown.matchAll(/^#{1,6} (.+)$/gm)) {
    out.add(
      heading!
        .toLowerCase()
        .replace(/[^a-z0-9 _-]/g, '')
        .replace(/ /g, '-'),
    );
  }
  return out;
}

const anchorOf = (url: string) => {
  expect(url.startsWith(`${ERROR_DOCS_URL}#`)).toBe(true);
  return url.slice(ERROR_DOCS_URL.length + 1);
};

describe('docs/error-codes.md', () => {
  it.each(Object.values(ErrorCode))('has a section for %s, where errorDocsUrl points', (code) => {
    expect(PAGE).toContain(`### \`${code}\``);
    expect(anchors(PAGE)).toContain(anchorOf(errorDocsUrl(code)));
  });

  it('is linked from every thrown TollgateError', () => {
    const err = new ConfigError([{ path: 'plans', message: 'is required' }]);
    expect(err.docs).toBe(`${ERROR_DOCS_URL}#err_tollgate_config`);
    expect(new TollgateError(ErrorCode.NoIdentity, 'x').docs).toBe(errorDocsUrl(ErrorCode.NoIdentity));
  });

  it('is linked from every logged code, and only from codes', () => {
    const seen: object[] = [];
    const logger = { warn: (o: object) => seen.push(o), error: (o: object) => seen.push(o) };
    safeLog(logger, 'warn', { code: ErrorCode.UnknownPlan, plan: 'gold' }, 'unknown plan');
    safeLog(logger, 'warn', { reqId: 'r1' }, 'no code');
    expect(seen).toEqual([
      {
        code: 'ERR_TOLLGATE_UNKNOWN_PLAN',
        plan: 'gold',
        docs: `${ERROR_DOCS_URL}#err_tollgate_unknown_plan`,
      },
      { reqId: 'r1' },
    ]);
  });
});
