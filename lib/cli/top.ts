// `wattmeter top`: the processes (or cgroups) drawing the most power, refreshed every
// second like top(1): watts over the last refresh, joules since start, CPU share. On a
// terminal the table is redrawn in place; `--format jsonl` writes one row per refresh and
// view, joules cumulative since start. Every figure is an attribution (the measured
// energy split by busy CPU time), which the header says.
import type { AttributionTotals, ConsumerKind, ConsumerTotal } from '../attribution/types.js';
import { usageError } from '../errors.js';
import { SAMPLER_OPTIONS, nameOptions, optionNames } from '../options.js';
import { openSampler } from '../sampler.js';
import { durationS, emit, samplerOptions, untilStopped, warn, type Command, type Flags } from './command.js';
import { LiveView } from './live-view.js';

const USAGE = `Usage: wattmeter top [--cgroups] [--pid PID ...] [--match REGEX] [--top N] [--format table|jsonl] [--duration S]

The processes (or, with --cgroups, the cgroups: containers, services, pods) using the
most power, refreshed every second: watts over the last second, joules since top
started, CPU share (100 % = one core). Energy is attributed by busy CPU time: an
estimate, not a measurement (see docs/attribution.md). Without --pid, --match or --self
every process is ranked; --top N rows are shown (default ${SAMPLER_OPTIONS.top.default}).

  --format table|jsonl   a live table (default), or one JSON row per refresh and view:
                         {"timestampMs", "domain", "view", "measuredJoules",
                          "unattributedJoules", "consumers": [{"kind", "id", "name",
                          "joules", "watts", "cpuShare"}, ...]}
  --duration S           stop after S seconds (default: until interrupted)
`;

export const topCommand: Command = {
  summary: `top [--cgroups] [--pid PID] [--match REGEX] [--format table|jsonl]
                                   the processes or cgroups using the most power (attributed)`,
  usage: USAGE,
  flags: { duration: { type: 'string' }, format: { type: 'string' } },
  run: (flags: Flags) => runTop(flags),
};

const REFRESH_MS = 1000;

export type TopFormat = 'table' | 'jsonl';

/** One consumer's line of a refresh. */
export interface TopConsumer {
  kind: ConsumerKind;
  id: string;
  name: string;
  /** Attributed energy since top started. */
  joules: number;
  /** Mean attributed power over the last refresh. */
  watts: number;
  /** CPU time used over the last refresh per second of it (1 = one core). */
  cpuShare: number;
  /** process: its command line. */
  command?: string;
  /** Ended (process) or removed (cgroup) since top started. */
  ended?: boolean;
}

/** One refresh of one view (processes or cgroups), for one domain. */
export interface TopRow {
  timestampMs: number;
  domain: string;
  view: ConsumerKind;
  measuredJoules: number;
  unattributedJoules: number;
  /** The view's measured power over the last refresh. */
  measuredWatts: number;
  consumers: TopConsumer[];
}

export function topFormat(format: string | undefined): TopFormat {
  if (format === undefined || format === 'table' || format === 'jsonl') return format ?? 'table';
  throw usageError(`--format must be table or jsonl for \`wattmeter top\`; got "${format}".`);
}

/**
 * Ranks a view between two totals: the most watts first (then the most joules), the
 * first `top` of them.
 */
export function topRow(now: AttributionTotals, before: AttributionTotals | undefined, top: number): TopRow | undefined {
  if (Number.isNaN(now.endMs)) return undefined;
  const d = Math.max(0, now.domains.findIndex((name) => name.startsWith('package')));
  const seconds = before && !Number.isNaN(before.endMs) ? (now.endMs - before.endMs) / 1000 : NaN;
  const earlier = new Map<number, ConsumerTotal>(before?.consumers.map((c) => [c.consumer.index, c]));
  const rate = (now: number, then: number | undefined) => (seconds > 0 ? (now - (then ?? 0)) / seconds : 0);
  const consumers = now.consumers.map(({ consumer, energyUj, cpuSeconds }): TopConsumer => {
    const then = earlier.get(consumer.index);
    return {
      kind: consumer.kind,
      id: consumer.id,
      name: consumer.name,
      joules: energyUj[d] / 1e6,
      watts: rate(energyUj[d], then?.energyUj[d]) / 1e6,
      cpuShare: rate(cpuSeconds, then?.cpuSeconds),
      ...(consumer.command !== undefined && { command: consumer.command }),
      ...(!Number.isNaN(consumer.endedMs) && { ended: true }),
    };
  });
  consumers.sort((a, b) => b.watts - a.watts || b.joules - a.joules);
  return {
    timestampMs: now.endMs,
    domain: now.domains[d],
    view: now.kind,
    measuredJoules: now.measuredUj[d] / 1e6,
    unattributedJoules: now.unattributedUj[d] / 1e6,
    measuredWatts: rate(now.measuredUj[d], before?.measuredUj[d]) / 1e6,
    consumers: consumers.slice(0, top),
  };
}

/** On one line: a command line may hold newlines (node -e '...'). */
const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim();
const pad = (text: string, width: number) => (text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width));
const num = (value: number, digits: number, width: number) => value.toFixed(digits).padStart(width);

/** The table of one view, as lines that fit `columns`. */
export function tableLines(row: TopRow, columns = 100): string[] {
  const attributed = row.measuredJoules - row.unattributedJoules;
  const title = row.view === 'process' ? 'PID' : 'CGROUP';
  const idWidth = row.view === 'process' ? 8 : 32;
  const head = `${pad(title, idWidth)} ${pad('NAME', 16)} ${'WATTS'.padStart(8)} ${'JOULES'.padStart(10)} ${'CPU %'.padStart(7)}`;
  const rest = Math.max(0, columns - head.length - 2);
  const lines = [
    `${row.domain}: ${row.measuredWatts.toFixed(2)} W measured, ${attributed.toFixed(1)} of ${row.measuredJoules.toFixed(1)} J attributed to ${row.view}es by CPU time (an estimate)`,
    row.view === 'process' ? `${head}  COMMAND` : head,
    ...row.consumers.map((c) => {
      const line = `${pad(c.id, idWidth)} ${pad(oneLine(c.name) + (c.ended ? ' (ended)' : ''), 16)} ${num(c.watts, 2, 8)} ${num(c.joules, 2, 10)} ${num(c.cpuShare * 100, 1, 7)}`;
      return row.view === 'process' && rest > 0 ? `${line}  ${pad(oneLine(c.command ?? ''), rest).trimEnd()}` : line;
    }),
  ];
  return lines.map((line) => line.slice(0, columns));
}

/** Runs top until --duration passes or SIGINT/SIGTERM. */
async function runTop(flags: Flags): Promise<void> {
  const format = topFormat(flags.format as string | undefined);
  const seconds = durationS(flags, Infinity);
  const options = samplerOptions(flags);
  const processes = (options.pids?.length ?? 0) > 0 || !!options.match || !!options.self || !!options.allProcesses;
  // Like top(1), every process unless told which (or told cgroups only).
  const sampler = openSampler(processes || options.cgroups ? options : nameOptions({ ...options, allProcesses: true }, optionNames(options)));
  warn(sampler.warnings);
  const attribution = sampler.attribution!;
  const views: ConsumerKind[] = (['cgroup', 'process'] as const).filter((kind) => attribution.totals(kind));
  const top = options.top ?? SAMPLER_OPTIONS.top.default;
  const previous = new Map<ConsumerKind, AttributionTotals>();
  const view = format === 'table' && process.stdout.isTTY ? new LiveView() : undefined;
  let warned = 0;
  const until = untilStopped(seconds);
  try {
    for await (const _ of sampler.batches({ intervalMs: REFRESH_MS, signal: until.signal })) {
      const warnings = attribution.stats().warnings;
      warn(warnings.slice(warned));
      warned = warnings.length;
      // The first totals are the baseline of the first refresh's watts.
      const rows = views.flatMap((kind) => {
        const now = attribution.totals(kind)!;
        const before = previous.get(kind);
        if (!Number.isNaN(now.endMs)) previous.set(kind, now);
        const row = before && topRow(now, before, top);
        return row ? [row] : [];
      });
      if (rows.length === 0) continue;
      if (format === 'jsonl') {
        await emit(rows.map((row) => JSON.stringify(row) + '\n').join(''));
        continue;
      }
      const frame = (width: number) => rows.flatMap((row, i) => [...(i > 0 ? [''] : []), ...tableLines(row, width)]);
      if (view) view.show(frame);
      else await emit(frame(160).join('\n') + '\n\n'); // piped: a wide page, commands cut
    }
  } finally {
    until.stop();
    view?.end();
    sampler.close();
  }
}
