// The option tables and their docs agree: docs/configuration.md and the adapters' READMEs list every option with
// its default, the bounds are given, and each option's JSDoc (what IDE hovers show) states its schema's default.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { z } from 'zod';
import { consoleLogger } from '../../src/logger';
import { tollgateOptionTable, trackUsageOptionTable } from '../../src/options';

const OPTIONS_SOURCE = path.resolve(__dirname, '../../src/options.ts');
const ROOT = path.resolve(__dirname, '../../../..');

/** The part of a markdown file from a heading to the next one of its level. */
function section(file: string, heading: string): string {
  const page = readFileSync(path.join(ROOT, file), 'utf8');
  const start = page.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`${file} has no heading ${heading}`);
  const end = page.indexOf('\n## ', start + heading.length + 2);
  return page.slice(start, end < 0 ? undefined : end);
}

const SECTION = section(
  'docs/configuration.md',
  '## Options of `trackUsage()`, the Fastify plugin and `createTollgate()`',
);
const OPTION_TABLES: Array<[string, string]> = [
  ['docs/configuration.md', SECTION],
  ['packages/express/README.md', section('packages/express/README.md', '## Options')],
  ['packages/fastify/README.md', section('packages/fastify/README.md', '## Options')],
];

const table: Record<string, z.ZodTypeAny> = trackUsageOptionTable<unknown>();
const httpOnly = Object.keys(table).filter((option) => !(option in tollgateOptionTable));
const numberOptions = Object.entries(table).flatMap(([option, schema]) => {
  const inner: z.ZodTypeAny = schema instanceof z.ZodDefault ? schema.removeDefault() : schema;
  return inner instanceof z.ZodNumber ? [[option, inner] as const] : [];
});

/** How the docs spell an option's default: `'enforce'`, `100000`, `['/api']`, none or required. */
function spelledDefault(schema: z.ZodTypeAny): string {
  if (schema instanceof z.ZodOptional) return 'none';
  if (!(schema instanceof z.ZodDefault)) return 'required';
  const value: unknown = schema._def.defaultValue();
  if (value === consoleLogger) return 'console (warn, error)';
  const literal = (v: unknown): string => (typeof v === 'string' ? `'${v}'` : String(v));
  return `\`${Array.isArray(value) ? `[${value.map(literal).join(', ')}]` : literal(value)}\``;
}

/** The rows of a section's table headed `| option`: option name (without a call's parameters) -> default. */
function documentedDefaults(markdown: string): Map<string, string> {
  const start = markdown.indexOf('\n| option ');
  const tableText = markdown.slice(start, markdown.indexOf('\n\n', start));
  const rows = new Map<string, string>();
  for (const [, option, cell] of tableText.matchAll(/^\| `(\w+)(?:\([^)]*\))?`\s*\| (.+?)\s*\|/gm)) {
    rows.set(option!, cell!);
  }
  return rows;
}

/** The JSDoc of every entry of the two tables in options.ts, read from the source. */
function jsDocs(): Map<string, string> {
  const text = readFileSync(OPTIONS_SOURCE, 'utf8');
  const source = ts.createSourceFile(OPTIONS_SOURCE, text, ts.ScriptTarget.ES2022, true);
  const isTable = (node: ts.ObjectLiteralExpression): boolean =>
    (ts.isVariableDeclaration(node.parent) && node.parent.name.getText() === 'tollgateOptionTable') ||
    (ts.isReturnStatement(node.parent) &&
      ts.isFunctionDeclaration(node.parent.parent.parent) &&
      node.parent.parent.parent.name?.text === 'trackUsageOptionTable');
  const docs = new Map<string, string>();
  const visit = (node: ts.Node): void => {
    if (ts.isObjectLiteralExpression(node) && isTable(node)) {
      for (const entry of node.properties) {
        if (!ts.isPropertyAssignment(entry)) continue;
        const comments = ts
          .getJSDocCommentsAndTags(entry)
          .map((doc) => ts.getTextOfJSDocComment(doc.comment));
        docs.set(entry.name.getText(), comments.join('\n'));
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return docs;
}

/** What an IDE shows on hovering each option of each type: quick info of `value.<option>` in a probe file. */
function hoverDocs(types: string[]): Array<Map<string, string>> {
  const dir = path.dirname(OPTIONS_SOURCE);
  const probe = path.join(dir, '__hover-probe.ts');
  const options = Object.keys(table);
  const text = [
    `import type * as o from './options';`,
    ...types.map(
      (type, i) => `declare const value${i}: ${type};\n${options.map((k) => `value${i}.${k};`).join('\n')}`,
    ),
  ].join('\n');
  const config = ts.getParsedCommandLineOfConfigFile(
    path.join(dir, '../tsconfig.build.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: () => undefined,
    },
  );
  const service = ts.createLanguageService({
    getScriptFileNames: () => [probe],
    getScriptVersion: () => '1',
    getScriptSnapshot: (file) => {
      const content = file === probe ? text : ts.sys.readFile(file);
      return content === undefined ? undefined : ts.ScriptSnapshot.fromString(content);
    },
    getCurrentDirectory: () => dir,
    getCompilationSettings: () => config!.options,
    getDefaultLibFileName: (settings) => ts.getDefaultLibFilePath(settings),
    fileExists: (file) => file === probe || ts.sys.fileExists(file),
    readFile: (file) => (file === probe ? text : ts.sys.readFile(file)),
  });
  return types.map((_type, i) => {
    const docs = new Map<string, string>();
    for (const option of options) {
      const at = text.indexOf(`value${i}.${option};`) + `value${i}.`.length;
      docs.set(option, ts.displayPartsToString(service.getQuickInfoAtPosition(probe, at)?.documentation));
    }
    return docs;
  });
}

describe.each(OPTION_TABLES)('the options table of %s', (_file, markdown) => {
  const rows = documentedDefaults(markdown);

  it.each(Object.keys(table))('lists %s with its default', (option) => {
    expect(rows.get(option)).toBe(spelledDefault(table[option]!));
  });

  it('lists no option the option tables do not have', () => {
    expect([...rows.keys()].filter((option) => !(option in table))).toEqual([]);
  });
});

describe('docs/configuration.md, options section', () => {
  it("names createTollgate()'s options and the HTTP ones in its opening paragraph", () => {
    const names = (list: string) => [...list.matchAll(/`(\w+)`/g)].map((m) => m[1]).sort();
    const [, tollgate, http] =
      /`createTollgate\(\)` takes ([^;]+);[^]+?the HTTP ones \(([^)]+)\)/.exec(SECTION) ?? [];
    expect(names(tollgate ?? '')).toEqual(Object.keys(tollgateOptionTable).sort());
    expect(names(http ?? '')).toEqual([...httpOnly].sort());
  });

  it.each(numberOptions)('gives the bounds of %s', (option, schema) => {
    const bounds = SECTION.slice(SECTION.indexOf('Bounds:'));
    const { minValue: min, maxValue: max } = schema;
    expect(bounds).toContain(max === null ? `\`${option}\` >= ${min}` : `\`${option}\` ${min}-${max}`);
  });
});

describe('the JSDoc of each option (what IDE hovers show)', () => {
  const docs = jsDocs();

  it.each(Object.keys(table))('states the default of %s', (option) => {
    const doc = docs.get(option) ?? '';
    const spelled = spelledDefault(table[option]!);
    if (spelled === 'required') expect(doc).toMatch(/ Required\.$/);
    else if (spelled === 'none') expect(doc).toMatch(/ Defaults to none\b/);
    else if (spelled.startsWith('console')) expect(doc).toMatch(/ Defaults to the console\b/);
    else expect(doc).toContain(` Defaults to ${spelled}`);
  });
});

describe('IDE hovers over the derived types', () => {
  const types = ['o.TrackUsageOptions', 'o.ResolvedTrackUsageOptions<unknown>'];

  it(`show the JSDoc of the table for every option of ${types.join(' and ')}`, () => {
    const source = jsDocs();
    const shown = hoverDocs(types);
    for (const [i, type] of types.entries()) {
      for (const option of Object.keys(table)) {
        expect([type, option, shown[i]!.get(option)]).toEqual([type, option, source.get(option)]);
      }
    }
  });
});
