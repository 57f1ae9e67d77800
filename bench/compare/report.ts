// compare.md: the machine, the method, one table per trade-off and a short conclusion for
// each, the numbers taken from the run itself (so the words cannot drift from the data).
import { FIRST_SAMPLE_GRACE_MS, POLL_MS } from './latency.js';
import type { CellResult, Comparison, StrategyName, StrategyResult } from '../../fixtures/compare-report.js';

const NAMES: Record<StrategyName, string> = { simple: 'simple', multirate: 'multirate', remote_write: 'remote write' };

/** A number for a table: `digits` significant-ish decimals, a dash for NaN/null. */
function num(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  if (Math.abs(value) >= 100) return value.toFixed(0);
  return value.toFixed(digits);
}

const pct = (value: number | null | undefined, digits = 1) => (value === null || value === undefined || !Number.isFinite(value) ? '—' : `${num(value, digits)} %`);
const errorPct = (measured: number, truth: number | null) => (truth === null ? NaN : ((measured - truth) / truth) * 100);
const signed = (value: number) => (Number.isFinite(value) ? `${value >= 0 ? '+' : ''}${num(value, 1)} %` : '—');

/** A Markdown table: the first column (labels) left-aligned, the figures right-aligned unless `text`. */
function table(header: string[], rows: string[][], text = false): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map((_, i) => (i === 0 || text ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

const cellLabel = (cell: CellResult) => `${cell.rateHz} Hz, ${cell.intervalS} s`;
const byName = (cell: CellResult, name: StrategyName) => cell.strategies.find((s) => s.strategy === name)!;
const STRATEGY_ORDER: StrategyName[] = ['simple', 'multirate', 'remote_write'];

/** One row per cell, one column group per strategy. */
function perCell(c: Comparison, columns: [string, (s: StrategyResult, cell: CellResult) => string][]): string {
  const header = ['rate, interval', ...STRATEGY_ORDER.flatMap((name) => columns.map(([title]) => `${NAMES[name]}: ${title}`))];
  const rows = c.cells.map((cell) => [cellLabel(cell), ...STRATEGY_ORDER.flatMap((name) => columns.map(([, value]) => value(byName(cell, name), cell)))]);
  return table(header, rows);
}

/** The cell the headline shows: the highest rate at a 5 s interval (the stack's default), or the nearest there is. */
export function headlineCell(c: Comparison): CellResult {
  const maxRate = Math.max(...c.cells.map((cell) => cell.rateHz));
  const candidates = c.cells.filter((cell) => cell.rateHz === maxRate);
  return candidates.reduce((best, cell) => (Math.abs(cell.intervalS - 5) < Math.abs(best.intervalS - 5) ? cell : best));
}

export function headlineTable(cell: CellResult): string {
  const header = [
    `${cellLabel(cell)}`, 'stored samples/s/series', 'completeness', 'ticks sharing a ms', 'mean power error (rate)', '50 ms burst energy seen',
    'exporter CPU', 'exporter peak RSS', 'Prometheus CPU', 'bytes on the wire/sample', 'latency p50 / max', `data lost to a ${cell.outageS} s Prometheus outage`,
  ];
  const rows = STRATEGY_ORDER.map((name) => {
    const s = byName(cell, name);
    const burst = s.burst && cell.burst ? pct((s.burst.gaugeJ / cell.burst.injectedJ) * 100, 0) : '—';
    return [
      NAMES[name], num(s.storedPerS, 2), pct(s.completeness * 100), num(s.sharedTicks, 0), signed(errorPct(s.ratePowerW, cell.truthW)), burst,
      pct(s.exporterCpuPct), `${num(s.exporterPeakMiB, 0)} MiB`, pct(s.prometheusCpuPct), num(s.wireBytesPerSample),
      `${num(s.latencyP50Ms, 0)} / ${num(s.latencyMaxMs, 0)} ms`, `${num(s.outageLostS, 1)} s`,
    ];
  });
  return table(header, rows);
}

function machine(c: Comparison): string {
  const m = c.machine;
  return table(
    ['CPUs (nproc)', 'CPU', 'kernel', 'Node', 'Prometheus', 'counters'],
    [[String(m.cpus), m.cpuModel, m.kernel, m.node, m.prometheus, m.source]],
    true,
  );
}

// ------------------------------------------------------------------------- conclusions

function range(values: number[], format: (v: number) => string): string {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return '—';
  const [lo, hi] = [Math.min(...finite), Math.max(...finite)];
  return format(lo) === format(hi) ? format(lo) : `${format(lo)} to ${format(hi)}`;
}

function strategyValues(c: Comparison, name: StrategyName, pick: (s: StrategyResult, cell: CellResult) => number, where = (_: CellResult) => true): number[] {
  return c.cells.filter(where).map((cell) => pick(byName(cell, name), cell));
}

function conclusions(c: Comparison) {
  const top = Math.max(...c.cells.map((cell) => cell.rateHz));
  const windowS = c.cells[0].multirateWindowS ?? 30;
  const atTop = (cell: CellResult) => cell.rateHz === top;
  const v = (name: StrategyName, pick: (s: StrategyResult, cell: CellResult) => number, where?: (cell: CellResult) => boolean) => strategyValues(c, name, pick, where);
  const list = (cells: CellResult[]) => (cells.length === 0 ? 'no cell' : `${cells.length} of ${c.cells.length} cells (${cells.map(cellLabel).join('; ')})`);
  const completeness = (name: StrategyName) => range(v(name, (s) => s.completeness * 100), (x) => pct(x, 0));
  const rateErr = range(STRATEGY_ORDER.flatMap((name) => v(name, (s, cell) => Math.abs(errorPct(s.ratePowerW, cell.truthW)))), (x) => pct(x, 1));
  const gaugeErr = (name: StrategyName) => range(v(name, (s, cell) => errorPct(s.meanPowerW, cell.truthW)), (x) => signed(x));
  const sharedAtMost1k = (name: StrategyName) =>
    num(c.cells.filter((cell) => cell.rateHz <= 1000).reduce((sum, cell) => sum + byName(cell, name).sharedTicks, 0), 0);
  const droppedCells = (name: StrategyName) => c.cells.filter((cell) => byName(cell, name).droppedPerS > 0.5);
  const seen = (where: (cell: CellResult) => boolean) => {
    const cells = c.cells.filter((cell) => where(cell) && cell.burst && byName(cell, 'simple').burst);
    return `${cells.filter((cell) => byName(cell, 'simple').burst!.gaugeJ > 0.5 * cell.burst!.injectedJ).length} of ${cells.length}`;
  };
  const timestamped = (['multirate', 'remote_write'] as const).flatMap((name) =>
    v(name, (s, cell) => (s.burst && cell.burst ? (s.burst.gaugeJ / cell.burst.injectedJ) * 100 : NaN)),
  );
  const cpuTop = (name: StrategyName) => range(v(name, (s) => s.exporterCpuPct, atTop), (x) => pct(x, 1));
  const promTop = (name: StrategyName) => range(v(name, (s) => s.prometheusCpuPct, atTop), (x) => pct(x, 1));
  const wire = (name: StrategyName) => range(v(name, (s) => s.wireBytesPerSample, atTop), (x) => num(x, 0));
  const diskTop = range(STRATEGY_ORDER.flatMap((name) => v(name, (s) => s.diskBytesPerSample, atTop)), (x) => num(x, 0));
  const lat = (name: StrategyName) => range(v(name, (s) => s.latencyP50Ms), (x) => `${num(x, 0)} ms`);
  const lostCells = (name: StrategyName) => c.cells.filter((cell) => byName(cell, name).outageLostS > 1);
  const truth = c.cells[0]?.truthW !== null;

  const overflowed = STRATEGY_ORDER.filter((name) => droppedCells(name).length > 0);
  return {
    resolution:
      `Simple stores one sample per series per scrape whatever the sampling rate (completeness ${completeness('simple')}): ` +
      `the sampler's other ticks only shape its 1 s power window. Multirate and remote write store every tick, folded to one per ` +
      `millisecond (completeness ${completeness('multirate')} and ${completeness('remote_write')}). Ticks that shared a millisecond ` +
      `with the tick before, folded into one sample (nothing is lost: the energy counter carries them), at 1000 Hz and below: ` +
      `${sharedAtMost1k('multirate')} (multirate) and ${sharedAtMost1k('remote_write')} (remote write) over all the steady spans; ` +
      `the sampler's deadlines fall on whole milliseconds, so a tick keeps its millisecond however late it wakes. That count ` +
      `is exact; completeness is not quite: it sets the stored samples, counted on their own timestamps, against the ` +
      `sampler's tick counter as the pull strategies' scrapes read it (stamped with the scrape's start, read when the request ` +
      `arrives, later on a busy machine), off by up to about 1 % over a 20 s span (a sampled rate above the sampling rate shows it). ` +
      (overflowed.length > 0
        ? overflowed
            .map((name) => `**${NAMES[name]} dropped ticks in ${list(droppedCells(name))}: the sampler's ring (10 s of ticks, at least ` +
              `1024) was full when drained, so the busy machine held the exporter's drains back for that long.**`)
            .join(' ')
        : 'No strategy dropped ticks from the sampler\'s ring.'),
    accuracy: truth
      ? `Mean power is right in every cell when read as PromQL should read it, \`rate()\` of the energy counter: within ${rateErr} ` +
        `of the known power for all three. The plain \`avg_over_time\` of the power gauge is not: it weights every sample alike, ` +
        `and the samples are neither evenly spaced (a delayed sampler) nor evenly filled (the fake writer, a Node timer on the same ` +
        `busy 2-CPU machine, stalls and then books the stalled time at once), so it reads ${gaugeErr('simple')} (simple), ` +
        `${gaugeErr('multirate')} (multirate) and ${gaugeErr('remote_write')} (remote write). Real RAPL counters advance on the ` +
        `hardware's clock and would spread less; still, use \`rate()\` of the counter for mean power. ` +
        `The burst is where the strategies part: simple's gauge holds the mean of the 1 s before each scrape, so it saw the burst in ` +
        `${seen((cell) => cell.intervalS <= 1)} cells at a 1 s interval and ${seen((cell) => cell.intervalS > 1)} at longer ones, and ` +
        `even then as a 1 s average (about +5 W instead of +100 W). Its energy counter holds the burst's joules, but blurred over a ` +
        `whole scrape interval and skewed by its timestamp, which is the scrape's time while the value dates from the last drain (up ` +
        `to 100 ms earlier, i.e. up to 2 J of base power). Multirate and remote write recovered ${range(timestamped, (x) => pct(x, 0))} ` +
        `of the injected energy from the stored gauge alone, placed within one sampling period; an outlier of up to ~1 J too much ` +
        `is the fake writer again: a stall of ~50 ms next to a sample that bounds the burst books base power x stall (20 W x 50 ms ` +
        `= 1 J) on the wrong side of it, and the counter-based figures of every strategy show the same. Their stored peak is not the true ` +
        `peak: at 1000 Hz it reads higher, because a 1 ms sample can hold several of the fake writer's late steps. The burst's true ` +
        `length is in the table: the bench's own timer, on the busy machine, sometimes held it longer than 50 ms.`
      : 'Measured on the host\'s counters: the true power is unknown, so accuracy was not measured (run without --rapl).',
    cost:
      `At ${top} Hz the exporter itself used ${cpuTop('simple')} of a core (simple), ${cpuTop('multirate')} (multirate) and ` +
      `${cpuTop('remote_write')} (remote write); multirate also holds its ${windowS} s window in memory. Prometheus is where multirate ` +
      `pays: each scrape carries the whole ${windowS} s window again (${wire('multirate')} bytes on the wire per stored sample, the most ` +
      `at 1 s scrapes, against ${wire('remote_write')} for remote write's snappy protobuf and ${wire('simple')} for simple's ` +
      `text, which carries its self-monitoring lines for one sample per series), and Prometheus parses every repeated line and ` +
      `drops it as already stored: ${promTop('multirate')} of a core against ${promTop('remote_write')} for remote write and ` +
      `${promTop('simple')} for simple. On disk a sample costs ${diskTop} bytes at ${top} Hz (more at low rates, where the WAL's ` +
      `per-series records weigh more): these runs are too short for compaction, so that is the WAL and head chunks, not what a ` +
      `compacted block needs.`,
    latency:
      `Simple's samples are queryable as soon as the scrape ends (p50 ${lat('simple')}, including up to ${POLL_MS} ms of polling), ` +
      `but its value was computed up to 100 ms (the drain interval) before its timestamp. Multirate delivers a batch per scrape, ` +
      `so a sample waits for the next one, about half an interval on average, plus the scrape itself (p50 ${lat('multirate')}). ` +
      `Remote write pushes once per interval or as soon as a request's batch (10 000 samples) is full, whichever comes first, ` +
      `so at high rates it delivers sooner than its interval says (p50 ${lat('remote_write')}).` +
      (overflowed.length > 0 ? ' Where a ring overflowed (above), the drains came late and so did the samples.' : ''),
    robustness:
      `With Prometheus stopped for the outage and restarted on its data, simple lost ${range(v('simple', (s) => s.outageLostS), (x) => `${num(x, 0)} s`)} ` +
      `of data: every scrape that would have happened, and the wait for Prometheus's first scrape after it restarts. Multirate lost ` +
      `data in ${list(lostCells('multirate'))}: every scrape serves the last ${windowS} s again, so an outage plus the wait for the next ` +
      `scrape must stay under ${windowS} s. Remote write lost data in ${list(lostCells('remote_write'))}: its queue holds 10 minutes and ` +
      `retries with backoff. (Lost: more than 1 s of data missing.)`,
  };
}

// ------------------------------------------------------------------------------ report

export function renderReport(c: Comparison, charts: string[]): string {
  const head = headlineCell(c);
  const words = conclusions(c);
  const chart = (name: string, alt: string) => (charts.includes(name) ? `![${alt}](${name})\n` : '');
  const burstCells = c.cells.filter((cell) => cell.burst);
  return `# The three exporters compared

Generated by \`npm run compare${c.quick ? ' -- --quick' : ''}\` on ${c.startedAt.slice(0, 10)} (${Math.round(c.durationS / 60)} min).${
    c.quick ? ' **Quick run: a reduced matrix with short phases; its figures are noisier than the full run\'s.**' : ''
  }

${machine(c)}

## Method

Each cell of the matrix (sampling rate x scrape or push interval) runs the three strategies side by side on the same
counters: each exporter is its own process (\`wattmeter export <name>\`, configured by the environment) in its
own process, with its own Prometheus ${c.machine.prometheus} started through \`prometheus/entrypoint.sh\` on the
configuration \`prometheus/write-config.sh\` writes (scrape interval and timeout = the cell's interval; remote write pushes
at the same interval), each link through a loopback relay that counts the bytes. The counters: ${
    c.cells[0]?.truthW == null
      ? "the host's own RAPL counters"
      : `a fake powercap tree (the tests' five zones, advanced every 1 ms by a writer process), \`package-0\` at ${c.cells[0].truthW} W`
  }; every figure is read from the \`package-0\` series. Per cell:

1. start, wait for data, one interval to settle;
2. a steady span (${range(c.cells.map((cell) => cell.steadyS), (x) => `${x} s`)}) with no queries: exporter CPU from
   \`/proc/<pid>/stat\`, Prometheus CPU and memory from its own \`/metrics\`, bytes through the relay;
3. a burst of +100 W for 50 ms (the fake writer's \`setWatts\`), then one interval for it to be stored;
4. the API polled every ${POLL_MS} ms for latency, and on until a sample has appeared (at most ${FIRST_SAMPLE_GRACE_MS / 1000} s more);
5. every Prometheus stopped for ${range(c.cells.map((cell) => cell.outageS), (x) => `${x} s`)} and restarted on its data directory;
6. everything read back from Prometheus's HTTP API, at the times above.

The three exporters and three Prometheus servers share ${c.machine.cpus} CPUs, so a heavy strategy slows the others'
sampler threads somewhat (the sampled rate column shows it); CPU and memory figures are each process's own. The CPU
figures over the short spans are coarse (10 ms clock ticks): treat differences under ~0.5 % of a core as noise.

## Headline

${headlineTable(head)}

Completeness: stored samples against the sampler's ticks. Ticks sharing a ms: ticks in the steady span that fell in the
millisecond of the tick before (the sampler's own count), which multirate and remote write fold into one sample. Mean power error: \`rate()\` of the stored energy counter against
the known power. Burst energy seen: the burst's energy above base recovered from the stored power samples. Bytes on the wire: both
directions through the relay, HTTP included, per sample Prometheus appended. Data lost: the longest hole in the stored series
across the outage, less the spacing the strategy stores at (the scrape interval for simple, the tick period for the others).

## Resolution

${perCell(c, [
  ['sampled/s', (s) => num(s.sampledPerS, 0)],
  ['stored/s', (s) => num(s.storedPerS, 2)],
  ['complete', (s) => pct(s.completeness * 100)],
  ['dropped/s', (s) => num(s.droppedPerS, 0)],
  ['sharing a ms', (s) => num(s.sharedTicks, 0)],
  ['max gap ms', (s) => num(s.maxGapMs, 0)],
])}

Sampled: the exporter's own tick counter; dropped: ticks lost because the sampler's ring was full when drained; sharing a ms:
ticks in the steady span whose millisecond the tick before already had (above 1000 Hz, by design); max gap: the longest time
between two stored samples of the series in the steady span.

${chart('resolution.svg', 'samples stored per second per series against the sampling rate')}
${words.resolution}

## Accuracy

Mean power over the steady span, known power ${c.cells[0]?.truthW ?? '—'} W: the gauge's \`avg_over_time\` and the energy counter's \`rate\`.

${perCell(c, [
  ['avg gauge', (s, cell) => `${num(s.meanPowerW, 2)} (${signed(errorPct(s.meanPowerW, cell.truthW))})`],
  ['rate(energy)', (s, cell) => `${num(s.ratePowerW, 2)} (${signed(errorPct(s.ratePowerW, cell.truthW))})`],
])}

The burst (+100 W for about 50 ms; its true length per cell below), as each strategy stored it: the energy above base in the stored power samples that cover it
(against the energy injected), the highest stored power, the span those samples confine the burst to, and the energy the
energy counter's samples around it hold.

${
  burstCells.length === 0
    ? 'No burst: the power is not ours to change on real RAPL.'
    : table(
        ['rate, interval', 'injected', ...STRATEGY_ORDER.map((name) => `${NAMES[name]}: gauge J / peak W / within ms / counter J`)],
        burstCells.map((cell) => [
          cellLabel(cell),
          `${num(cell.burst!.injectedJ, 2)} J in ${num(cell.burst!.durationMs, 1)} ms`,
          ...STRATEGY_ORDER.map((name) => {
            const b = byName(cell, name).burst;
            return b ? `${num(b.gaugeJ, 2)} / ${num(b.peakW, 0)} / ${num(b.locatedMs, 0)} / ${num(b.counterJ, 2)}` : '—';
          }),
        ]),
      )
}

${chart('burst.svg', 'the 50 ms burst as each strategy stored it')}
${words.accuracy}

## Cost

Over the steady span: CPU as a share of one core, peak resident memory (the exporter's VmHWM over the whole cell),
Prometheus's data directory per sample appended since it started, bytes on the wire per sample appended during the span.

${perCell(c, [
  ['CPU', (s) => pct(s.exporterCpuPct)],
  ['peak RSS MiB', (s) => num(s.exporterPeakMiB, 0)],
])}

${perCell(c, [
  ['Prom. CPU', (s) => pct(s.prometheusCpuPct)],
  ['Prom. RSS MiB', (s) => num(s.prometheusRssMiB, 0)],
  ['disk B/sample', (s) => num(s.diskBytesPerSample, 1)],
  ['wire B/sample', (s) => num(s.wireBytesPerSample, 1)],
])}

${chart('cpu.svg', 'exporter CPU against the sampling rate')}
${words.cost}

## Latency

From a sample's timestamp to the first answer of the API that holds it (polled every ${POLL_MS} ms, which adds about half
of that), over all samples of the package energy series that appeared while polling.

${perCell(c, [
  ['p50 ms', (s) => num(s.latencyP50Ms, 0)],
  ['max ms', (s) => num(s.latencyMaxMs, 0)],
  ['failed scrapes', (s) => (s.failedScrapes === null ? 'n/a' : num(s.failedScrapes, 0))],
])}

Failed scrapes: scrapes with \`up == 0\` during the steady span (a scrape that overran its timeout, which is the interval);
multirate serves the same samples again at the next scrape, so they arrive late rather than never.

${words.latency}

## Robustness

Prometheus (the scraper, or the remote-write receiver) stopped and restarted on the same data directory, then the stored
series read back.

${perCell(c, [
  ['stored during', (s) => String(s.outageStored)],
  ['longest hole s', (s) => num(s.outageMaxGapMs / 1000, 1)],
  ['data lost s', (s) => num(s.outageLostS, 1)],
])}

Stored during: samples with timestamps inside the outage (fewer than usual even where nothing was lost: the sampler itself
ticks less while three Prometheus servers replay their WAL on the shared CPUs). Longest hole: from before the stop to the
first samples after the restart (a pull strategy waits up to a few seconds more for Prometheus's first scrape). Data lost:
that hole less the spacing the strategy stores at.

${words.robustness}
`;
}
