// An option table (one zod schema per option, its JSDoc the option's doc) and what is derived from it: the input
// type, the resolved type, the defaults and validation.
import { z } from 'zod';
import { ConfigError } from '@tollgate/core';

/**
 * One entry per option: its schema, with `.default(...)` where it has one or `.optional()` where it may stay unset,
 * and its doc as JSDoc (the derived types below keep it, so IDE hovers and the emitted .d.ts show it).
 */
export type OptionTable = Record<string, z.ZodTypeAny>;

/** A plain mapped type over an intersection: hovers and errors show one object of options, not `A & B`. */
type Flatten<T> = { [K in keyof T]: T[K] };

type KeysAccepting<T extends OptionTable, Io extends 'input' | 'output'> = {
  [K in keyof T]: undefined extends (Io extends 'input' ? z.input<T[K]> : z.output<T[K]>) ? K : never;
}[keyof T];

/** What a caller passes: an option whose schema takes undefined (it is optional or has a default) may be left out. */
export type OptionsInput<T extends OptionTable> = Flatten<
  { [K in keyof T as K extends KeysAccepting<T, 'input'> ? never : K]: z.input<T[K]> } & {
    [K in keyof T as K extends KeysAccepting<T, 'input'> ? K : never]?: z.input<T[K]>;
  }
>;

/** The options once resolved: every option with a default is set; only those without one may be absent. */
export type ResolvedOptions<T extends OptionTable> = Flatten<
  { [K in keyof T as K extends KeysAccepting<T, 'output'> ? never : K]: z.output<T[K]> } & {
    [K in keyof T as K extends KeysAccepting<T, 'output'> ? K : never]?: z.output<T[K]>;
  }
>;

/** The options that have a default, each with it. */
export type OptionDefaults<T extends OptionTable> = {
  [K in keyof T as T[K] extends z.ZodDefault<z.ZodTypeAny> ? K : never]: z.output<T[K]>;
};

/** Reads every `.default(...)` of a table. */
export function defaultsOf<T extends OptionTable>(table: T): OptionDefaults<T> {
  const defaults: Record<string, unknown> = {};
  for (const [option, schema] of Object.entries(table)) {
    if (schema instanceof z.ZodDefault) defaults[option] = schema._def.defaultValue();
  }
  return defaults as OptionDefaults<T>;
}

/** A callback option of exactly type `F` (zod cannot infer a function's parameters from a check). */
export const callback = <F extends (...args: never[]) => unknown>() =>
  z.custom<F>((value) => typeof value === 'function', 'must be a function');

/**
 * `schema` as the type `T` it checks for: zod infers `{ ... } & { [k: string]: unknown }` from a passthrough object,
 * which a class instance or an interface (a pino logger, a ledger baseline) does not fit.
 */
export function checkingFor<T>(schema: z.ZodTypeAny): z.ZodType<T, z.ZodTypeDef, T> {
  return schema;
}

/** Drops keys whose value is undefined, so `{ failMode: undefined }` means "default", not "unset". */
export function definedOnly<T extends object>(obj: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** Validates options against a strict object of their table; throws one ConfigError naming every bad option. */
export function validateOptions(schema: z.ZodTypeAny, value: unknown, source: string): void {
  const parsed = schema.safeParse(value);
  if (parsed.success) return;
  throw new ConfigError(
    parsed.error.issues.map((i) => ({
      path: i.path.join('.'),
      message: i.code === 'unrecognized_keys' ? `unknown option(s) ${i.keys.join(', ')}` : i.message,
    })),
    { source },
  );
}
