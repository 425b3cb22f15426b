// The Lua scripts and script-layout.ts describe the same positions: each script's header binds every KEYS/ARGV
// position it reads to a named local, and the TS layout must name the same positions the same way, so the
// encoder can never drift from what a script reads.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { currentWindows } from '@tollgate/core/internal';
import {
  ACK,
  APPLY,
  APPLY_LUA,
  MANY,
  APPLY_REPLY,
  CLAIM,
  PROBE,
  PROBE_LUA,
  READ,
  READ_REPLY,
  SEED,
  ShardKeys,
  encodeApply,
  type ScriptLayout,
} from '@tollgate/redis/internal';

const LUA_DIR = join(__dirname, '../../src/lua');

const SCRIPTS: Record<string, ScriptLayout> = {
  'apply.lua': APPLY,
  'many.lua': MANY,
  'read.lua': READ,
  'seed.lua': SEED,
  'claim.lua': CLAIM,
  'ack.lua': ACK,
  'probe.lua': PROBE,
};

interface Header {
  keys: Record<string, number>;
  argv: Record<string, number>;
  tail: Record<string, number>;
  /** The script after its header bindings. */
  body: string;
}

const VALUE_BINDING = /^local (\w+) = (KEYS|ARGV)\[(\d+)\](?: or '')?(?: --.*)?$/;
const TAIL_BINDING = /^local (\w+At) = (\d+)(?: --.*)?$/;

/** The bindings at the top of a script: after the flags line and header comment, up to the first other line. */
function header(source: string): Header {
  const lines = source.split('\n');
  const out: Header = { keys: {}, argv: {}, tail: {}, body: '' };
  let i = lines[0]!.startsWith('#!') ? 1 : 0;
  while (i < lines.length && (lines[i]!.startsWith('--') || lines[i]!.trim() === '')) i++;
  for (; i < lines.length; i++) {
    const line = lines[i]!;
    const value = VALUE_BINDING.exec(line);
    const tail = TAIL_BINDING.exec(line);
    if (value) (value[2] === 'KEYS' ? out.keys : out.argv)[value[1]!] = Number(value[3]);
    else if (tail) out.tail[tail[1]!] = Number(tail[2]);
    else break;
  }
  out.body = lines.slice(i).join('\n');
  return out;
}

/** Lua code with its comments removed and each string literal's text apart (no long strings are used). */
function split(lua: string): { code: string; strings: string[] } {
  let code = '';
  const strings: string[] = [];
  for (let i = 0; i < lua.length; i++) {
    const c = lua[i]!;
    if (c === '-' && lua[i + 1] === '-') {
      while (i < lua.length && lua[i] !== '\n') i++;
      code += '\n';
    } else if (c === "'" || c === '"') {
      let text = '';
      for (i++; i < lua.length && lua[i] !== c; i++) text += lua[i] === '\\' ? lua[i++]! + lua[i] : lua[i];
      strings.push(text);
      code += c + c;
    } else {
      code += c;
    }
  }
  return { code, strings };
}

const FIXED_POSITION = /\b(KEYS|ARGV)\[\s*\d/;

describe('the Lua scripts and script-layout.ts', () => {
  it('has a layout for every script file and a file for every layout', () => {
    const files = readdirSync(LUA_DIR).filter((f) => f.endsWith('.lua'));
    expect(files.sort()).toEqual(Object.keys(SCRIPTS).sort());
  });

  for (const [file, layout] of Object.entries(SCRIPTS)) {
    describe(file, () => {
      const parsed = header(readFileSync(join(LUA_DIR, file), 'utf8'));

      it('binds the KEYS and ARGV positions the layout names, under the same names', () => {
        expect(parsed.keys).toEqual(layout.keys);
        expect(parsed.argv).toEqual(layout.argv);
        expect(parsed.tail).toEqual(layout.tail);
      });

      it('reads no fixed KEYS/ARGV position below its header', () => {
        const { code } = split(parsed.body);
        expect(code.split('\n').filter((l) => FIXED_POSITION.test(l))).toEqual([]);
      });

      it('names in its messages only positions its header binds', () => {
        const bound = new Set([...Object.values(layout.argv), ...Object.values(layout.tail)]);
        const named = split(parsed.body)
          .strings.flatMap((s) => [...s.matchAll(/ARGV\[(\d+)\]/g)].map((m) => Number(m[1])))
          .filter((p) => !bound.has(p));
        expect(named).toEqual([]);
      });
    });
  }

  it('has the preludes read fixed positions nowhere', () => {
    for (const file of readdirSync(join(LUA_DIR, 'lib'))) {
      const { code } = split(readFileSync(join(LUA_DIR, 'lib', file), 'utf8'));
      expect({ file, lines: code.split('\n').filter((l) => FIXED_POSITION.test(l)) }).toEqual({
        file,
        lines: [],
      });
    }
  });

  it.each([
    ['apply.lua', APPLY_REPLY],
    ['read.lua', READ_REPLY],
  ])('%s returns its reply parts where the decoder reads them', (file, replies) => {
    const returned: Record<string, Record<string, number>> = {};
    for (const m of readFileSync(join(LUA_DIR, file), 'utf8').matchAll(/return \{'([A-Z])'((?:, \w+)*)\}/g)) {
      const names = m[2]!
        .split(',')
        .slice(1)
        .map((n) => n.trim());
      returned[m[1]!] = Object.fromEntries(names.map((n, i) => [n, i + 1]));
    }
    expect(returned).toEqual(replies);
  });

  it('indexes every named key and fixed argument where the call array carries it', () => {
    for (const layout of Object.values(SCRIPTS)) {
      const expected: Record<string, number> = {};
      for (const [name, p] of Object.entries(layout.keys)) expected[name] = p - 1;
      for (const [name, p] of Object.entries(layout.argv)) expected[name] = layout.keyCount + p - 1;
      expect(layout.at).toEqual(expected);
      expect(layout.headLength).toBe(Object.keys(expected).length);
    }
  });

  it('has the apply encoder (written by index) fill every fixed position', () => {
    const now = Date.now();
    const { args } = encodeApply(
      {
        opId: 'op-1',
        tag: 't:acme',
        now,
        mode: 'enforce',
        scopes: [{ scope: 'tenant', id: 'acme' }],
        windows: currentWindows(now),
        limits: [],
        amounts: [{ meter: 'requests', amount: 1 }],
        usage: [],
        warnAt: [],
        seed: 'auto',
      },
      new ShardKeys('t:', 't:acme'),
      't:q',
      600_000,
    );
    const head = args.slice(0, APPLY.headLength);
    expect(head.filter((a) => typeof a === 'string')).toHaveLength(APPLY.headLength);
    expect(head[APPLY.at.opId]).toBe('op-1');
    expect(head[APPLY.at.now]).toBe(String(now));
  });

  it('loads a script with its preludes first and keeps a flags line on top', () => {
    expect(APPLY_LUA.startsWith(readFileSync(join(LUA_DIR, 'lib/lean-checks.lua'), 'utf8'))).toBe(true);
    expect(APPLY_LUA.endsWith(readFileSync(join(LUA_DIR, 'apply.lua'), 'utf8'))).toBe(true);
    expect(PROBE_LUA.split('\n')[0]).toBe('#!lua flags=no-writes,allow-cross-slot-keys');
  });
});
