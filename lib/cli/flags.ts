// Reads a command line into the command's name, its flags and its arguments, and says
// what is wrong in wattmeter's words: parseArgs' own errors name neither the command nor
// the flag meant, and call `--duration -1` ambiguous.
import { parseArgs } from 'node:util';
import { usageError } from '../errors.js';

export interface FlagSpec {
  type: 'string' | 'boolean';
  short?: string;
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

/** Parsed flags by long name: a string for a flag that takes a value, true for a switch. */
export type Flags = Readonly<Record<string, string | boolean | undefined>>;

export interface CommandLine {
  /** The first argument that is not a flag (or its value). */
  name: string | undefined;
  args: string[];
  flags: Flags;
  /** The flags some command takes. */
  known: FlagSpecs;
  /** Every flag given, in order: as typed, its long name and its value. */
  given: { raw: string; name: string; value: string | undefined; inline: boolean }[];
}

/**
 * Splits argv with every flag any command knows (so each value goes with its flag) and
 * no judgement: which flags the command takes is checkFlags' business.
 */
export function readCommandLine(argv: string[], known: FlagSpecs): CommandLine {
  const { values, positionals, tokens } = parseArgs({ args: argv, options: known, strict: false, allowPositionals: true, tokens: true });
  const given = tokens.flatMap((token) =>
    token.kind === 'option' ? [{ raw: token.rawName, name: token.name, value: token.value, inline: token.inlineValue ?? false }] : [],
  );
  const [name, ...args] = positionals;
  return { name, args, flags: values as Flags, given, known };
}

const NUMBER = /^-?(\d|\.\d)/;

/**
 * Checks every flag given against those `command` takes (`own`): unknown ones get the
 * nearest name, a flag that needs a value gets one (`--duration -1` is a value), a switch
 * gets none.
 */
export function checkFlags(line: CommandLine, own: FlagSpecs, command: string): void {
  const where = command ? `\`wattmeter ${command}\`` : '`wattmeter`';
  const help = `Run \`wattmeter${command ? ` ${command}` : ''} --help\` for its options.`;
  const { known } = line;
  for (const { raw, name, value, inline } of line.given) {
    const spec = Object.hasOwn(own, name) ? own[name] : undefined;
    if (!spec) {
      if (Object.hasOwn(known, name) && raw.startsWith('--')) throw usageError(`${raw} is not an option of ${where}. ${help}`);
      const guess = nearest(name, Object.keys(own));
      throw usageError(`Unknown option ${raw} for ${where}${guess ? `; did you mean --${guess}?` : '.'} ${help}`);
    }
    if (spec.type === 'boolean' && value !== undefined) {
      throw usageError(`${raw} takes no value; got "${value}". ${help}`);
    }
    if (spec.type === 'string' && (value === undefined || (!inline && value.startsWith('-') && !NUMBER.test(value)))) {
      throw usageError(`${raw} needs a value${value === undefined ? '' : `, not the option ${value}`}. ${help}`);
    }
  }
}

/** The name closest to `typed`: a couple of edits away, or either a prefix of the other. */
export function nearest(typed: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of names) {
    const d = name.startsWith(typed) || typed.startsWith(name) ? 1 : distance(typed, name);
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  // One edit in three letters: "--rates" finds --rate, "--nope" finds nothing.
  return bestDistance <= Math.max(1, Math.floor(typed.length / 3)) ? best : undefined;
}

/** Edits between two names, a swap of neighbours counting as one (optimal string alignment). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
