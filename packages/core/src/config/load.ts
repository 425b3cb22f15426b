// Loading a config file (JSON, or YAML otherwise) into a parsed config.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors';
import { parseConfig } from './parse';
import type { TollgateConfigInput } from './schema';
import type { TollgateConfig } from './types';

/** Reads a JSON or YAML config file (by extension; YAML otherwise), or validates an object. */
export function loadConfig(source: string | TollgateConfigInput): TollgateConfig {
  if (typeof source !== 'string') return parseConfig(source);
  let text: string;
  try {
    text = readFileSync(source, 'utf8');
  } catch (err) {
    throw new ConfigError(
      [{ path: '', message: `cannot read config file ${source}: ${(err as Error).message}` }],
      { cause: err },
    );
  }
  let data: unknown;
  try {
    data = path.extname(source).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(
      [{ path: '', message: `cannot parse ${path.basename(source)}: ${(err as Error).message}` }],
      {
        cause: err,
      },
    );
  }
  return parseConfig(data, source);
}
