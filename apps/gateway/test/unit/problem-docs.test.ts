// Every problem+json `type` the gateway and the middleware send has a section in docs/error-codes.md (its anchor).
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../../../..');
const PAGE = readFileSync(path.join(ROOT, 'docs/error-codes.md'), 'utf8');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => readFileSync(path.join(e.parentPath, e.name), 'utf8'));
}

/** The gateway's rule for a problem's `type`: its title in lower case, other characters as `-`. */
const slug = (title: string) =>
  title
    .toLowerCase()
    .replace(/[^a-z]+/g, '-')
    .replace(/^-|-$/g, '');

/** Every `type` written in the code: titles given to sendProblem/HttpProblem, and `${PROBLEM_BASE}name` literals. */
function problemTypes(): Set<string> {
  const text = [
    ...sources(path.join(ROOT, 'apps/gateway/src')),
    ...sources(path.join(ROOT, 'packages/http/src')),
  ].join('\n');
  const types = new Set<string>();
  for (const [, title] of text.matchAll(/\btitle: '([^']+)'/g)) types.add(slug(title!));
  for (const [, title] of text.matchAll(/HttpProblem\(\s*\d{3},\s*'([^']+)'/g)) types.add(slug(title!));
  for (const [, name] of text.matchAll(/\$\{PROBLEM_BASE\}([a-z-]+)/g)) types.add(name!);
  for (const [, name] of text.matchAll(/tollgate\.dev\/problems\/([a-z-]+)/g)) types.add(name!);
  return types;
}

describe('problem+json types', () => {
  const types = [...problemTypes()].sort();

  it('are found in the code (the scan works)', () => {
    expect(types).toEqual(
      expect.arrayContaining([
        'quota-exceeded',
        'unauthorized',
        'bad-gateway',
        'invalid-request',
        'forbidden',
      ]),
    );
  });

  it.each(types)('%s has its section in docs/error-codes.md', (type) => {
    expect(PAGE).toContain(`### \`${type}\``);
  });
});
