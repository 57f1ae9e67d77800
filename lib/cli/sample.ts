// `wattmeter sample`: live power per domain on a terminal, or every tick as CSV or JSON
// lines for a program.
import { concatBatches, windowPowerWatts, type Batch } from '../batch.js';
import { usageError } from '../errors.js';
import { openSampler, type Sampler } from '../sampler.js';
import { durationS, emit, formatTable, samplerOptions, untilStopped, warn, type Command, type Flags } from './command.js';
import { LiveView, type Frame } from './live-view.js';

const FORMATS = ['table', 'csv', 'jsonl'] as const;

export const sampleCommand: Command = {
  summary: `sample [--rate HZ] [--duration S] [--format ${FORMATS.join('|')}]
                                   live power (table) or every tick (csv, jsonl)`,
  usage: `Usage: wattmeter sample [--duration S] [--format ${FORMATS.join('|')}] [options]

Samples every domain until Ctrl-C (or --duration). On a terminal, a table of the power
over the last half second, redrawn in place; piped, one table after another.

  --format table                     power per domain, every 500 ms (default)
  --format csv                       every tick: timestampMs, then each domain's energyUj
  --format jsonl                     every tick: {"timestampMs", "energyUj": {domain: uJ}}
                                     (energy: cumulative microjoules since the start)
  --duration S                       stop after S seconds (default: run until stopped)
`,
  flags: { duration: { type: 'string' }, format: { type: 'string' } },
  run: sample,
};

async function sample(flags: Flags): Promise<void> {
  const format = flags.format ?? 'table';
  if (!(FORMATS as readonly unknown[]).includes(format)) {
    throw usageError(`--format must be one of ${FORMATS.join(', ')}; got "${format}".`);
  }
  const seconds = durationS(flags, Infinity);
  const sampler = openSampler(samplerOptions(flags));
  warn(sampler.warnings);
  const intervalMs = format === 'table' ? 500 : 100;
  const view = format === 'table' && process.stdout.isTTY ? new LiveView() : undefined;
  const frameOf = energySinceStart(sampler, intervalMs);
  const render: (batch: Batch) => string | void =
    format === 'csv'
      ? csvRows
      : format === 'jsonl'
        ? jsonlRows
        : view
          ? (batch) => view.show(frameOf(batch))
          : (batch) => frameOf(batch)(Infinity).join('\n') + '\n\n';
  if (format === 'csv') {
    await emit(['timestampMs', ...sampler.domains.map((d) => `${d.name}_energyUj`)].join(',') + '\n');
  }
  const until = untilStopped(seconds);
  try {
    for await (const batch of sampler.batches({ intervalMs, signal: until.signal })) {
      const text = render(batch);
      if (text) await emit(text);
    }
  } finally {
    until.stop();
    view?.end();
    sampler.close();
  }
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

/**
 * Draws the table of a batch for any width; the energy is counted from the first tick. The
 * power is read across the batch before too: the last batch, drained at Ctrl-C, may hold
 * one tick or none, and alone it would show NaN watts.
 */
export function energySinceStart(sampler: Sampler, intervalMs: number): (batch: Batch) => Frame {
  let firstUj: number[] | undefined;
  let previous: Batch | undefined;
  return (batch) => {
    const recent = previous ? concatBatches([previous, batch]) : batch;
    previous = batch.length >= 2 ? batch : recent;
    if (recent.length > 0) firstUj ??= recent.energyUj.map((column) => column[0]);
    const watts = windowPowerWatts(recent, intervalMs);
    const last = recent.length - 1;
    const joules = recent.energyUj.map((column, d) => (last < 0 ? 0 : (column[last] - firstUj![d]) / 1e6));
    return tableFrame(sampler, watts, joules);
  };
}

function tableFrame(sampler: Sampler, watts: readonly number[], joules: readonly number[]): Frame {
  const stats = sampler.stats();
  const rows = [
    ['DOMAIN', 'POWER (W)', 'ENERGY (J)'],
    ...sampler.domains.map((d, i) => [d.name, watts[i].toFixed(2), joules[i].toFixed(3)]),
  ];
  const status = [
    `source ${sampler.source}${sampler.source === 'model' ? ' (an estimate)' : ''}`,
    `${stats.achievedRateHz.toFixed(0)} Hz`,
    `${stats.dropped} dropped`,
    `${stats.ticks} ticks`,
  ];
  return (width) => [...fitColumns(rows, width), fitList(status, width)];
}

/**
 * The table in `width` columns: the domain column left, numbers right; the rightmost
 * columns left out while it is too wide (the caller cuts what still is).
 */
export function fitColumns(rows: readonly (readonly string[])[], width: number): string[] {
  let columns = rows[0].length;
  const lines = (n: number) => {
    const cut = rows.map((row) => row.slice(0, n));
    const widths = cut[0].map((_, c) => Math.max(...cut.map((r) => r[c].length)));
    return formatTable(cut.map((row) => row.map((cell, c) => (c === 0 ? cell : cell.padStart(widths[c])))));
  };
  while (columns > 1 && Math.max(...lines(columns).map((l) => l.length)) > width) columns--;
  return lines(columns);
}

/** As many of `parts` as fit in `width`, comma-separated. */
export function fitList(parts: readonly string[], width: number): string {
  let n = parts.length;
  while (n > 1 && parts.slice(0, n).join(', ').length > width) n--;
  return parts.slice(0, n).join(', ');
}
