// Every relative link in the README, docs/ and the package READMEs names a file that exists, and an anchor that
// its page has: the docs link into source files, which move.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../../../..');

function pages(): string[] {
  const inDir = (dir: string, pick: (name: string) => boolean) =>
    existsSync(path.join(ROOT, dir))
      ? readdirSync(path.join(ROOT, dir))
          .filter(pick)
          .map((n) => path.join(dir, n))
      : [];
  return [
    'README.md',
    ...inDir('docs', (n) => n.endsWith('.md')),
    ...['packages', 'apps', 'examples'].flatMap((d) =>
      inDir(d, () => true)
        .map((p) => path.join(p, 'README.md'))
        .filter((p) => existsSync(path.join(ROOT, p))),
    ),
  ];
}

/** GitHub's heading anchors: lower case, punctuation other than `-` and `_` dropped, spaces as `-`. */
function anchorsOf(file: string): Set<string> {
  const text = readFileSync(path.join(ROOT, file), 'utf8').replace(/```[\s\S]*?```/g, '');
  const out = new Set<string>();
  for (const [, heading] of text.matchAll(/^#{1,6} (.+)$/gm)) {
    out.add(
      heading!
        .toLowerCase()
        .replace(/[^a-z0-9 _-]/g, '')
        .replace(/ /g, '-'),
    );
  }
  return out;
}

function links(file: string): Array<{ target: string; anchor: string | null }> {
  const text = readFileSync(path.join(ROOT, file), 'utf8').replace(/```[\s\S]*?```/g, '');
  const out: Array<{ target: string; anchor: string | null }> = [];
  for (const [, href] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^[a-z]+:/i.test(href!)) continue;
    const [rel, anchor] = href!.split('#') as [string, string | undefined];
    const target = rel === '' ? file : path.normalize(path.join(path.dirname(file), rel));
    out.push({ target, anchor: anchor ?? null });
  }
  return out;
}

describe.each(pages())('links in %s', (file) => {
  it('name files that exist and anchors their pages have', () => {
    const broken: string[] = [];
    for (const { target, anchor } of links(file)) {
      if (!existsSync(path.join(ROOT, target))) {
        broken.push(`${target} (no such file)`);
        continue;
      }
      if (anchor !== null && target.endsWith('.md') && !anchorsOf(target).has(anchor)) {
        broken.push(`${target}#${anchor} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });
});
