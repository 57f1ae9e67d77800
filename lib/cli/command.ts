// What a `wattmeter` command is, and what every command shares: the sampler's options
// (flags over the environment), --user, --duration, warnings on stderr, plain tables.
import { flagAndEnvNames, flagNames, parseArgsOptions, textsFromFlags, usageLines, type OptionTable } from '../option-table.js';
import { SAMPLER_OPTIONS, nameOptions, optionsFromEnv, parseNumber, parseOptions, resolveSamplerOptions, type SamplerOptions } from '../options.js';
import { dropPrivileges } from '../privileges.js';
import { usageError } from '../errors.js';
import type { FlagSpecs, Flags } from './flags.js';

export type { Flags } from './flags.js';

export interface Command {
  /** Its line in `wattmeter --help`: the synopsis, then what it does. */
  summary: string;
  /** Its own help, `wattmeter <command> --help`: the sampler's options are added below it. */
  usage: string;
  /** The flags it takes besides the sampler's and --help (parseArgs options). */
  flags: FlagSpecs;
  /** How many arguments it takes (default none). */
  args?: number;
  /** The sampler's options it takes, when not all: the others are refused, not ignored. */
  samplerOptions?: readonly (keyof typeof SAMPLER_OPTIONS)[];
  run(flags: Flags, args: string[]): void | Promise<void>;
}

const HELP_FLAG: FlagSpecs = { help: { type: 'boolean', short: 'h' } };

/** The flags of every sampler option, and --help. */
export const SHARED_FLAGS: FlagSpecs = { ...parseArgsOptions(SAMPLER_OPTIONS), ...HELP_FLAG };

const samplerHelp = (table: OptionTable) => `Sampler options (each also an environment variable):
${usageLines(table).join('\n')}
  -h, --help                         this text
`;

export const SAMPLER_HELP = samplerHelp(SAMPLER_OPTIONS);

function samplerTable({ samplerOptions: keys }: Command): OptionTable {
  return keys ? Object.fromEntries(keys.map((key) => [key, SAMPLER_OPTIONS[key]])) : SAMPLER_OPTIONS;
}

/** Every flag a command takes: its own, the sampler's it takes, and --help. */
export function commandFlags(command: Command): FlagSpecs {
  return { ...parseArgsOptions(samplerTable(command)), ...HELP_FLAG, ...command.flags };
}

/** `wattmeter <command> --help`: its own text, then the sampler's options it takes. */
export function commandHelp(command: Command): string {
  return `${command.usage}\n${samplerHelp(samplerTable(command))}`;
}

/** Flag name for each option, so errors name what the user typed. */
const OPTION_FLAGS = flagNames(SAMPLER_OPTIONS);

/** An option's value may come from either, so a later check names both. */
const FLAG_AND_ENV = flagAndEnvNames(SAMPLER_OPTIONS);

/**
 * The sampler's options: the environment first, flags over it, checked; a later error
 * (the sampler's, the addon's) names both the flag and the variable.
 */
export function samplerOptions(flags: Flags): SamplerOptions {
  const options = nameOptions({ ...optionsFromEnv(), ...parseOptions(textsFromFlags(SAMPLER_OPTIONS, flags), OPTION_FLAGS) }, FLAG_AND_ENV);
  resolveSamplerOptions(options); // before anything opens; the sampler checks again
  return options;
}

/**
 * For the commands that open no sampler (which switches user itself): --user is checked
 * and applied alike everywhere, once the counters have been read.
 */
export function switchUser(options: SamplerOptions): void {
  if (options.user) dropPrivileges(options.user);
}

/** What a timer can wait: 2^31 - 1 ms, 24.8 days. */
const MAX_DURATION_S = 2_147_483;

/** --duration in seconds, or `fallback` when not given. */
export function durationS(flags: Flags, fallback: number): number {
  const text = flags.duration;
  if (typeof text !== 'string') return fallback;
  const seconds = parseNumber(text, '--duration', -Infinity, Infinity);
  if (!(seconds > 0 && seconds <= MAX_DURATION_S)) {
    throw usageError(`--duration needs a positive number of seconds, at most ${MAX_DURATION_S} (leave it out to run until stopped); got ${text}.`);
  }
  return seconds;
}

export function warn(lines: readonly string[]): void {
  for (const line of lines) process.stderr.write(`wattmeter: ${line}\n`);
}

/** Left-aligned columns, two spaces apart. */
export function formatTable(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((row) => row.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd());
}

export function printTable(rows: readonly (readonly string[])[]): void {
  for (const line of formatTable(rows)) console.log(line);
}

/** Writes to stdout, waiting when the pipe is full so memory stays flat. */
export async function emit(text: string): Promise<void> {
  if (!process.stdout.write(text)) await new Promise((resolve) => process.stdout.once('drain', resolve));
}

/** Resolves on the first SIGINT or SIGTERM, or after `seconds`; `stop` undoes the handlers. */
export function untilStopped(seconds: number): { signal: AbortSignal; stop(): void } {
  const controller = new AbortController();
  const interrupt = () => controller.abort();
  process.once('SIGINT', interrupt).once('SIGTERM', interrupt);
  const timer = Number.isFinite(seconds) ? setTimeout(interrupt, seconds * 1000) : undefined;
  return {
    signal: controller.signal,
    stop() {
      clearTimeout(timer);
      process.off('SIGINT', interrupt).off('SIGTERM', interrupt);
    },
  };
}

/** Waits for the first SIGINT or SIGTERM, or `seconds`: how a server command runs. */
export async function waitUntilStopped(seconds: number): Promise<void> {
  const until = untilStopped(seconds);
  await new Promise((resolve) => until.signal.addEventListener('abort', resolve, { once: true }));
  until.stop();
}
