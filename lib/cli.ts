#!/usr/bin/env node
// The `wattmeter` command: read the counters, sample live, benchmark the sampler, run an
// exporter.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { windowPowerWatts, type Batch } from './batch.js';
import { listDomains, readOnce } from './domains.js';
import { WattmeterError, usageError } from './errors.js';
import { flagAndEnvNames, flagNames, parseArgsOptions, textsFromEnv, textsFromFlags, usageLines } from './option-table.js';
import { SAMPLER_OPTIONS, optionsFromEnv, parseNumber, parseOptions, resolveSamplerOptions, type SamplerOptions } from './options.js';
import { openSampler, type Sampler } from './sampler.js';
import { EXPORTER_OPTIONS } from './exporters/env.js';
import { EXPORTERS, EXPORTER_FLAGS, exporterKind, runExporter } from './cli/export.js';

const COMMANDS = `Commands:
  domains [--json]                 the energy domains found, with source and path
  read [--json]                    one reading of every counter, in joules
  sample [--rate HZ] [--duration S] [--format table|csv|jsonl]
                                   live power (table) or every tick (csv, jsonl)
  bench [--rate HZ] [--duration S] [--json]
                                   sample rate, timing jitter and CPU cost of the sampler
  export ${EXPORTERS.join('|')} [--host A] [--port P] ...
                                   run a Prometheus exporter until stopped
`;

const SAMPLER_HELP = `Sampler options (each also an environment variable):
${usageLines(SAMPLER_OPTIONS).join('\n')}
`;

const USAGE = `Usage: wattmeter <command> [options]

${COMMANDS}
${SAMPLER_HELP}  -h, --help                         this text; \`wattmeter <command> --help\` for a command's own
  --version
`;

const EXPORT_USAGE = `Usage: wattmeter export ${EXPORTERS.join('|')} [options]

Runs one of the three Prometheus exporters until SIGINT or SIGTERM:
  simple        one value per series per scrape (GET /metrics)
  multirate     every sample of the last window, timestamped, to every scrape
  remote-write  every sample pushed to a remote-write receiver (--url)

Exporter options (each also an environment variable):
${usageLines(EXPORTER_OPTIONS).join('\n')}
  (no flag, environment only, as a command line is visible to every user:
   WATTMETER_REMOTE_WRITE_BEARER_TOKEN, or _USERNAME and _PASSWORD)
  --duration S                       stop after S seconds (default: run until stopped)

${SAMPLER_HELP}`;

const FLAGS = {
  ...parseArgsOptions(SAMPLER_OPTIONS),
  ...parseArgsOptions(EXPORTER_OPTIONS),
  duration: { type: 'string' },
  format: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

const EXPORT_FLAGS = Object.keys(parseArgsOptions(EXPORTER_OPTIONS));

/** Flag name for each option, so errors name what the user typed. */
const OPTION_FLAGS = flagNames(SAMPLER_OPTIONS);

/** An option's value may come from either, so a later check names both. */
const FLAG_AND_ENV = flagAndEnvNames(SAMPLER_OPTIONS);

type Flags = ReturnType<typeof parseCommandLine>['values'];

function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: FLAGS, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageError(`${(error as Error).message}\nRun \`wattmeter --help\` for usage.`);
  }
}

/** Environment first, flags over it. */
function samplerOptions(flags: Flags): SamplerOptions {
  const options = { ...optionsFromEnv(), ...parseOptions(textsFromFlags(SAMPLER_OPTIONS, flags), OPTION_FLAGS) };
  resolveSamplerOptions(options, FLAG_AND_ENV); // checked here to name both; the sampler checks again
  return options;
}

function durationS(flags: Flags, fallback: number): number {
  // At most what a timer can wait (2^31 - 1 ms, 24.8 days); leave it out to run until stopped.
  return flags.duration === undefined ? fallback : parseNumber(flags.duration, '--duration', 0.001, 2_147_483);
}

function warn(lines: readonly string[]): void {
  for (const line of lines) process.stderr.write(`wattmeter: ${line}\n`);
}

function printTable(rows: string[][]): void {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const row of rows) console.log(row.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd());
}

function domainsCommand(flags: Flags): void {
  const found = listDomains(samplerOptions(flags));
  warn(found.warnings);
  if (flags.json) return console.log(JSON.stringify(found, null, 2));
  printTable([
    ['DOMAIN', 'SOURCE', 'WRAPS AT (J)', 'PATH'],
    ...found.domains.map((d) => [d.name, d.source, (d.maxEnergyRangeUj / 1e6).toFixed(0), d.path]),
  ]);
}

function readCommand(flags: Flags): void {
  const reading = readOnce(samplerOptions(flags));
  warn(reading.warnings);
  if (flags.json) {
    const domains = reading.domains.map(({ name, source, path, energyJoules, energyUj, maxEnergyRangeUj }) => ({
      name,
      source,
      path,
      energyJoules,
      energyUj,
      maxEnergyRangeUj,
    }));
    return console.log(JSON.stringify({ source: reading.source, timestampMs: reading.timestampMs, domains }, null, 2));
  }
  printTable([
    ['DOMAIN', 'ENERGY (J)', 'SOURCE', 'PATH'],
    ...reading.domains.map((d) => [d.name, d.energyJoules.toFixed(6), d.source, d.path]),
  ]);
}

/** Writes to stdout, waiting when the pipe is full so memory stays flat. */
async function emit(text: string): Promise<void> {
  if (!process.stdout.write(text)) await new Promise((resolve) => process.stdout.once('drain', resolve));
}

function csvRows(batch: Batch): string {
  let out = '';
  for (let i = 0; i < batch.length; i++) {
    out += batch.timestampsMs[i].toFixed(3);
    for (const column of batch.energyUj) out += `,${column[i]}`;
    out += '\n';
  }
  return out;
}

function jsonlRows(batch: Batch): string {
  const names = batch.domains.map((d) => JSON.stringify(d.name));
  let out = '';
  for (let i = 0; i < batch.length; i++) {
    const energy = batch.energyUj.map((column, d) => `${names[d]}:${column[i]}`).join(',');
    out += `{"timestampMs":${batch.timestampsMs[i]},"energyUj":{${energy}}}\n`;
  }
  return out;
}

/** Live table of power per domain; redrawn in place on a terminal. */
function tableView(sampler: Sampler, intervalMs: number): (batch: Batch) => string {
  let drawn = 0;
  return (batch) => {
    const watts = windowPowerWatts(batch, intervalMs);
    const stats = sampler.stats();
    const lines = [
      `${'DOMAIN'.padEnd(12)}${'POWER (W)'.padStart(12)}${'ENERGY (J)'.padStart(14)}`,
      ...sampler.domains.map(
        (d, i) =>
          `${d.name.padEnd(12)}${watts[i].toFixed(2).padStart(12)}${(batch.energyUj[i][batch.length - 1] / 1e6).toFixed(3).padStart(14)}`,
      ),
      `${stats.ticks} ticks at ${stats.achievedRateHz.toFixed(0)} Hz, ${stats.dropped} dropped, source ${sampler.source}`,
    ];
    const redraw = process.stdout.isTTY && drawn > 0 ? `\x1b[${drawn}A\x1b[J` : '';
    drawn = lines.length;
    return redraw + lines.join('\n') + '\n';
  };
}

async function sampleCommand(flags: Flags): Promise<void> {
  const format = flags.format ?? 'table';
  if (!['table', 'csv', 'jsonl'].includes(format)) {
    throw usageError(`--format must be one of table, csv, jsonl; got "${format}".`);
  }
  const seconds = durationS(flags, Infinity);
  const sampler = openSampler(samplerOptions(flags));
  warn(sampler.warnings);
  const intervalMs = format === 'table' ? 500 : 100;
  const render =
    format === 'table' ? tableView(sampler, intervalMs) : format === 'csv' ? csvRows : jsonlRows;
  if (format === 'csv') {
    await emit(['timestampMs', ...sampler.domains.map((d) => `${d.name}_energyUj`)].join(',') + '\n');
  }
  const stop = new AbortController();
  const interrupt = () => stop.abort();
  process.once('SIGINT', interrupt).once('SIGTERM', interrupt);
  if (Number.isFinite(seconds)) setTimeout(interrupt, seconds * 1000).unref();
  try {
    for await (const batch of sampler.batches({ intervalMs, signal: stop.signal })) await emit(render(batch));
  } finally {
    process.off('SIGINT', interrupt).off('SIGTERM', interrupt);
    sampler.close();
  }
}

async function benchCommand(flags: Flags): Promise<void> {
  const seconds = durationS(flags, 10);
  const sampler = openSampler(samplerOptions(flags));
  warn(sampler.warnings);
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  sampler.start();
  // Drain as a consumer would, so the figures include the cost of draining.
  const deadline = wallBefore + seconds * 1000;
  while (performance.now() < deadline) {
    await sleep(Math.min(100, deadline - performance.now()));
    sampler.drain();
  }
  sampler.stop();
  const cpu = process.cpuUsage(cpuBefore);
  const wallS = (performance.now() - wallBefore) / 1000;
  const stats = sampler.stats();
  sampler.close();
  const result = {
    source: sampler.source,
    domains: sampler.domains.length,
    rateHz: stats.rateHz,
    achievedRateHz: stats.achievedRateHz,
    ticks: stats.ticks,
    dropped: stats.dropped,
    overruns: stats.overruns,
    readErrors: stats.readErrors,
    latenessUs: stats.latenessUs,
    cpuPercent: ((cpu.user + cpu.system) / 1e6 / wallS) * 100,
    effectiveResolutionHz: stats.effectiveResolutionHz,
    realtime: stats.realtime,
    settings: stats.settings,
    notes: stats.notes,
  };
  if (flags.json) return console.log(JSON.stringify(result, null, 2));
  const resolution = Object.entries(result.effectiveResolutionHz).map(([d, hz]) => `${d} ${hz.toFixed(0)}`);
  printTable([
    ['source', `${result.source} (${result.domains} domains)`],
    ['rate', `${result.rateHz} Hz asked, ${result.achievedRateHz.toFixed(1)} Hz achieved`],
    ['ticks', `${result.ticks} (${result.dropped} dropped, ${result.overruns} overruns, ${result.readErrors} read errors)`],
    ['lateness', `p50 ${result.latenessUs.p50.toFixed(1)} us, p99 ${result.latenessUs.p99.toFixed(1)} us, max ${result.latenessUs.max.toFixed(1)} us`],
    ['cpu', `${result.cpuPercent.toFixed(2)} % of one core`],
    ['resolution', `${resolution.join(', ')} Hz (value changes per second)`],
    ['realtime', result.realtime ? 'SCHED_FIFO' : 'no'],
    ['settings', result.settings.join(', ') || 'none'],
  ]);
  warn(result.notes);
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function exportCommand(flags: Flags, [name]: string[]): Promise<void> {
  const kind = exporterKind(name);
  const flagged = textsFromFlags(EXPORTER_OPTIONS, flags);
  const foreign = (Object.keys(flagged) as (keyof typeof EXPORTER_OPTIONS)[]).find((key) => !EXPORTER_FLAGS[kind].includes(key));
  if (foreign) {
    throw usageError(`${flagNames(EXPORTER_OPTIONS)[foreign]} is not an option of \`wattmeter export ${kind}\`. Run \`wattmeter export --help\` for usage.`);
  }
  const settings = { texts: { ...textsFromEnv(EXPORTER_OPTIONS, process.env), ...flagged }, names: flagAndEnvNames(EXPORTER_OPTIONS) };
  await runExporter(kind, samplerOptions(flags), settings, durationS(flags, Infinity), warn);
}

interface Command {
  run(flags: Flags, args: string[]): void | Promise<void>;
  /** The flags it takes besides the sampler's, --help and --version. */
  flags: readonly string[];
  /** Positional arguments it takes. */
  args?: number;
  usage?: string;
}

const COMMAND_TABLE: Record<string, Command> = {
  domains: { run: domainsCommand, flags: ['json'] },
  read: { run: readCommand, flags: ['json'] },
  sample: { run: sampleCommand, flags: ['duration', 'format'] },
  bench: { run: benchCommand, flags: ['duration', 'json'] },
  export: { run: exportCommand, flags: ['duration', ...EXPORT_FLAGS], args: 1, usage: EXPORT_USAGE },
};

const SHARED_FLAGS = new Set([...Object.keys(parseArgsOptions(SAMPLER_OPTIONS)), 'help', 'version']);

export async function main(argv: string[]): Promise<number> {
  const { values: flags, positionals } = parseCommandLine(argv);
  if (flags.version) {
    console.log(version());
    return 0;
  }
  const [name, ...args] = positionals;
  const command = name === undefined ? undefined : COMMAND_TABLE[name];
  if (flags.help || name === 'help') {
    process.stdout.write(command?.usage ?? USAGE);
    return 0;
  }
  if (name === undefined) throw usageError(`No command given.\n${USAGE}`);
  if (!command) throw usageError(`Unknown command "${name}". Commands: ${Object.keys(COMMAND_TABLE).join(', ')}.`);
  if (args.length > (command.args ?? 0)) throw usageError(`Unexpected argument "${args[command.args ?? 0]}". Run \`wattmeter ${name} --help\` for usage.`);
  const foreign = Object.keys(flags).filter((flag) => !SHARED_FLAGS.has(flag) && !command.flags.includes(flag));
  if (foreign.length > 0) throw usageError(`--${foreign[0]} is not an option of \`wattmeter ${name}\`. Run \`wattmeter ${name} --help\` for usage.`);
  await command.run(flags, args);
  return 0;
}

process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0); // `wattmeter sample | head` is fine
  throw error;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof WattmeterError) {
      process.stderr.write(`wattmeter: ${error.message}\n`);
      process.exitCode = error.exitCode;
    } else {
      console.error(error);
      process.exitCode = 1;
    }
  },
);
