// A table of options, each declared once: its environment variable, its flag, how its text
// is parsed, its default and its help. Types, parsers, name maps and usage lines are
// derived from a table, so a variable, a flag and a check cannot drift apart.
import { usageError } from './errors.js';

interface CommonSpec {
  /** The environment variable that sets it. */
  env: string;
  /** The command-line flag that sets it, for a table a command reads. */
  flag?: `--${string}`;
  /** What follows the flag in `--help` (options that take a value). */
  metavar?: string;
  /** One line for `--help`. */
  help: string;
  /** A default computed at run time, as `--help` and the README describe it. */
  defaultDoc?: string;
  /** '' counts as unset. */
  emptyIsUnset?: boolean;
}

export type OptionSpec = CommonSpec &
  (
    | { kind: 'string'; default?: string }
    | { kind: 'number'; min: number; max: number; integer?: boolean; default?: number }
    /** Whole numbers: a comma list in the variable; the flag may also be given again. */
    | { kind: 'integers'; min: number; max: number; default?: readonly number[] }
    | { kind: 'boolean'; default?: boolean }
    | { kind: 'choice'; choices: readonly string[]; default?: string }
  );

export type OptionTable = Readonly<Record<string, OptionSpec>>;

/** The value an option parses to. */
export type OptionValue<S> = S extends { kind: 'number' }
  ? number
  : S extends { kind: 'integers' }
    ? number[]
    : S extends { kind: 'boolean' }
    ? boolean
    : S extends { choices: readonly (infer C)[] }
      ? C
      : string;

/** Every option of a table, optional; homomorphic, so each key keeps its doc comment. */
export type OptionValues<T extends OptionTable> = { -readonly [K in keyof T]?: OptionValue<T[K]> };

/** Unparsed values (from the environment or flags), by option key. */
export type OptionTexts<T extends OptionTable> = Partial<Record<keyof T, string | undefined>>;

/** What to call each option in an error: its variable, its flag or its key. */
export type OptionNames<T extends OptionTable> = Partial<Record<keyof T, string>>;

function mapTable<T extends OptionTable, V>(table: T, value: (spec: OptionSpec, key: string) => V): Record<string, V> {
  return Object.fromEntries(Object.entries(table).map(([key, spec]) => [key, value(spec, key)]));
}

/** The environment variable of each option. */
export function envNames<T extends OptionTable>(table: T): { readonly [K in keyof T]: T[K]['env'] } {
  return mapTable(table, (spec) => spec.env) as { [K in keyof T]: T[K]['env'] };
}

/** The flag of each option. */
export function flagNames<T extends OptionTable>(table: T): { readonly [K in keyof T]: T[K]['flag'] } {
  return mapTable(table, (spec) => spec.flag) as { [K in keyof T]: T[K]['flag'] };
}

/** The flag and the variable of each option, for a command that reads both. */
export function flagAndEnvNames<T extends OptionTable>(table: T): Record<keyof T, string> {
  return mapTable(table, (spec, key) => [spec.flag, spec.env].filter(Boolean).join(' / ') || key) as Record<keyof T, string>;
}

type FlagName<S> = S extends { flag: `--${infer N}` } ? N : never;
type FlagType<S> = S extends { kind: 'boolean' } ? 'boolean' : 'string';
type FlagSpec<S> = S extends { kind: 'integers' } ? { type: 'string'; multiple: true } : { type: FlagType<S> };

/** node:util parseArgs options for every option that has a flag. */
export function parseArgsOptions<T extends OptionTable>(
  table: T,
): { [K in keyof T as FlagName<T[K]>]: FlagSpec<T[K]> } {
  const entries = Object.values(table)
    .filter((spec) => spec.flag)
    .map((spec) => [
      spec.flag!.slice(2),
      spec.kind === 'integers' ? { type: 'string', multiple: true } : { type: spec.kind === 'boolean' ? 'boolean' : 'string' },
    ]);
  return Object.fromEntries(entries) as never;
}

/** The `--help` lines of every option that has a flag. */
export function usageLines(table: OptionTable, column = 37): string[] {
  return Object.values(table)
    .filter((spec) => spec.flag)
    .map((spec) => {
      const value = spec.kind === 'choice' ? spec.choices.join('|') : spec.metavar;
      const left = `  ${spec.flag}${value ? ` ${value}` : ''}`;
      // A flag that is off unless given needs no default.
      const fallback = spec.kind === 'boolean' || spec.kind === 'integers' ? undefined : (spec.default ?? spec.defaultDoc);
      const right = `${spec.env}: ${spec.help}${fallback === undefined ? '' : ` (default ${fallback})`}`;
      return left.length < column ? left.padEnd(column) + right : `${left}\n${' '.repeat(column)}${right}`;
    });
}

// Decimal only: Number() would also take "0x50" as 80, "0b1" as 1 and " 5 " as 5.
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export function parseNumber(text: string, name: string, min: number, max: number): number {
  const value = Number(text);
  if (!DECIMAL.test(text) || !Number.isFinite(value)) throw usageError(`${name} must be a number; got "${text}".`);
  if (value < min || value > max) throw usageError(`${name} must be between ${min} and ${max}; got ${text}.`);
  return value;
}

export function parseBoolean(text: string, name: string): boolean {
  if (/^(1|true|yes|on)$/i.test(text)) return true;
  if (/^(0|false|no|off|)$/i.test(text)) return false;
  throw usageError(`${name} must be true or false; got "${text}".`);
}

export function oneOf<T extends string>(value: string, allowed: readonly T[], name: string): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw usageError(`${name} must be one of ${allowed.join(', ')}; got "${value}".`);
}

function parseValue(spec: OptionSpec, text: string, name: string): string | number | boolean | number[] {
  switch (spec.kind) {
    case 'string':
      return text;
    case 'boolean':
      return parseBoolean(text, name);
    case 'choice':
      return oneOf(text, spec.choices, name);
    case 'number': {
      const value = parseNumber(text, name, spec.min, spec.max);
      if (spec.integer && !Number.isInteger(value)) throw usageError(`${name} must be a whole number; got ${text}.`);
      return value;
    }
    case 'integers':
      return text.split(',').filter((item) => item.trim() !== '').map((item) => {
        const value = parseNumber(item.trim(), name, spec.min, spec.max);
        if (!Number.isInteger(value)) throw usageError(`${name} must be whole numbers; got ${item.trim()}.`);
        return value;
      });
  }
}

/** Parses the values that are set; an error names the option as `names` says (else its key). */
export function parseTexts<T extends OptionTable>(table: T, texts: OptionTexts<T>, names: OptionNames<T>): OptionValues<T> {
  const options: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(table)) {
    const text = texts[key];
    if (text === undefined || (text === '' && spec.emptyIsUnset)) continue;
    options[key] = parseValue(spec, text, names[key] ?? key);
  }
  return options as OptionValues<T>;
}

/** The unparsed value of each option whose variable is set. */
export function textsFromEnv<T extends OptionTable>(table: T, env: NodeJS.ProcessEnv): OptionTexts<T> {
  const texts: Record<string, string> = {};
  for (const [key, spec] of Object.entries(table)) {
    if (env[spec.env] !== undefined) texts[key] = env[spec.env]!;
  }
  return texts as OptionTexts<T>;
}

/** The unparsed value of each option whose flag was given, from parseArgs' values. */
export function textsFromFlags<T extends OptionTable>(table: T, values: Readonly<Record<string, unknown>>): OptionTexts<T> {
  const texts: Record<string, string> = {};
  for (const [key, spec] of Object.entries(table)) {
    const value = spec.flag === undefined ? undefined : values[spec.flag.slice(2)];
    if (value !== undefined) texts[key] = String(value);
  }
  return texts as OptionTexts<T>;
}

/** `keys` of `options`, each filled with its default where unset. */
export function withDefaults<T extends OptionTable, K extends keyof T & string>(
  table: T,
  keys: readonly K[],
  options: OptionValues<T>,
): { [P in K]: OptionValue<T[P]> } {
  return Object.fromEntries(keys.map((key) => [key, options[key] ?? table[key].default])) as never;
}
