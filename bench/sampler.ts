// The native sampler against the obvious pure-JavaScript alternative (setInterval plus
// fs.readFileSync of each energy_uj), on a fake tree of 5 powercap zones that a writer
// process advances every millisecond. Prints a table; `npm run bench` (about 80 s).
//
// "Sustained" means at least 98 % of the deadlines met (the rest counted as overruns) and
// no tick dropped, with JavaScript draining the ring every 100 ms as an application would;
// a rate that fails is tried once more, since the machine is shared.
import { readFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { openSampler } from '../lib/index.js';
import { FakeWriter, fakePowercap, fiveZones, removeRoot, tempRoot } from '../test/helpers/fake-rapl.js';

interface Run {
  rateHz: number;
  achievedHz: number;
  dropped: number;
  overruns: number;
  latenessUs: { p50: number; p99: number; max: number };
  cpuPercent: number; // of one core, this process only (the writer is another process)
  cpuPerTickUs: number;
}

const meetsDeadlines = (r: Run) => r.dropped === 0 && r.achievedHz >= 0.98 * r.rateHz;

async function sustained(run: (rateHz: number) => Promise<Run>, rateHz: number): Promise<boolean> {
  return meetsDeadlines(await run(rateHz)) || meetsDeadlines(await run(rateHz));
}

/** CPU time of this process over wall time while `body` runs, in % of one core. */
async function cpuPercentOf(body: () => Promise<void>): Promise<number> {
  const cpu = process.cpuUsage();
  const wall = performance.now();
  await body();
  const used = process.cpuUsage(cpu);
  return ((used.user + used.system) / 1000 / (performance.now() - wall)) * 100;
}

async function nativeRun(sysfsRoot: string, rateHz: number, seconds: number): Promise<Run> {
  using sampler = openSampler({ sysfsRoot, rateHz });
  const cpuPercent = await cpuPercentOf(async () => {
    sampler.start();
    const drainer = setInterval(() => sampler.drain(), 100);
    await sleep(seconds * 1000);
    clearInterval(drainer);
    sampler.stop();
  });
  sampler.drain();
  const s = sampler.stats();
  return {
    rateHz,
    achievedHz: s.achievedRateHz,
    dropped: s.dropped,
    overruns: s.overruns,
    latenessUs: s.latenessUs,
    cpuPercent,
    cpuPerTickUs: (cpuPercent / 100 / s.achievedRateHz) * 1e6,
  };
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/**
 * What one would write without the addon: read every energy_uj on a timer into a
 * preallocated buffer. Deadlines are accounted as the native thread does: a tick more than
 * a period late counts the periods it missed as overruns.
 */
async function jsRun(files: string[], rateHz: number, seconds: number): Promise<Run> {
  const periodMs = 1000 / rateHz;
  const capacity = Math.ceil(rateHz * seconds) + 16;
  const values = new Float64Array(capacity * (1 + files.length));
  const lateness = new Float64Array(capacity);
  let ticks = 0;
  let overruns = 0;
  const cpuPercent = await cpuPercentOf(async () => {
    let deadline = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      const late = now - deadline;
      if (late >= periodMs) {
        const missed = Math.floor(late / periodMs);
        overruns += missed;
        deadline += missed * periodMs;
      }
      deadline += periodMs;
      if (ticks >= capacity) return;
      lateness[ticks] = Math.max(0, late);
      const row = ticks * (1 + files.length);
      values[row] = performance.timeOrigin + now;
      for (let i = 0; i < files.length; i++) values[row + 1 + i] = Number(readFileSync(files[i], 'latin1'));
      ticks++;
    }, periodMs);
    await sleep(seconds * 1000);
    clearInterval(timer);
  });
  const sorted = lateness.slice(0, ticks).sort();
  const us = (ms: number) => ms * 1000;
  return {
    rateHz,
    achievedHz: ticks / seconds,
    dropped: 0,
    overruns,
    latenessUs: { p50: us(quantile(sorted, 0.5)), p99: us(quantile(sorted, 0.99)), max: us(sorted.at(-1) ?? 0) },
    cpuPercent,
    cpuPerTickUs: (cpuPercent / 100 / (ticks / seconds)) * 1e6,
  };
}

/** The highest rate sustained: a coarse ladder, then a few bisections between its last pass and first failure. */
async function highestSustained(run: (rateHz: number) => Promise<Run>, ladder: number[]): Promise<number> {
  let pass = 0;
  let fail = 0;
  for (const rate of ladder) {
    if (await sustained(run, rate)) pass = rate;
    else {
      fail = rate;
      break;
    }
  }
  for (let i = 0; i < 3 && fail > 0 && pass > 0; i++) {
    const mid = Math.round(Math.sqrt(pass * fail) / 100) * 100;
    if (mid <= pass || mid >= fail) break;
    if (await sustained(run, mid)) pass = mid;
    else fail = mid;
  }
  return pass;
}

const root = tempRoot('wattmeter-bench-');
const zones = fakePowercap(root, fiveZones());
const files = zones.map((z) => z.file);
const writer = await FakeWriter.start(zones);
try {
  console.log(`wattmeter sampler benchmark: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} CPUs, Linux ${release()}, Node ${process.version}`);
  console.log('5 fake powercap zones advanced every 1 ms by a writer process; JavaScript drains every 100 ms.\n');
  const ladder = [1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000];
  const nativeMax = await highestSustained((r) => nativeRun(root, r, 2), ladder);
  const jsMax = await highestSustained((r) => jsRun(files, r, 2), [100, 200, 500, 1000, 2000, 5000]);
  const runs = {
    native1k: await nativeRun(root, 1000, 5),
    js1k: await jsRun(files, 1000, 5),
    native10k: await nativeRun(root, 10_000, 10),
    js10k: await jsRun(files, 10_000, 5),
  };

  const f = (n: number, digits = 0) => n.toFixed(digits);
  const row = (label: string, native: string, js: string, ratio = '') =>
    console.log(`${label.padEnd(30)}${native.padStart(14)}${js.padStart(16)}${ratio.padStart(12)}`);
  row('', 'native', 'js', 'native/js');
  row('highest rate sustained (Hz)', f(nativeMax), f(jsMax), jsMax > 0 ? `${f(nativeMax / jsMax, 1)}x` : '');
  for (const [rate, native, js] of [
    ['1 kHz', runs.native1k, runs.js1k],
    ['10 kHz', runs.native10k, runs.js10k],
  ] as const) {
    row(`${rate}: achieved (Hz)`, f(native.achievedHz), f(js.achievedHz), `${f(native.achievedHz / js.achievedHz, 1)}x`);
    row(`${rate}: dropped / overruns`, `${native.dropped} / ${native.overruns}`, `${js.dropped} / ${js.overruns}`);
    for (const q of ['p50', 'p99', 'max'] as const) {
      row(`${rate}: lateness ${q} (us)`, f(native.latenessUs[q], 1), f(js.latenessUs[q], 1), `${f(js.latenessUs[q] / native.latenessUs[q], 1)}x less`);
    }
    row(`${rate}: CPU (% of one core)`, f(native.cpuPercent, 2), f(js.cpuPercent, 2), `${f(js.cpuPercent / native.cpuPercent, 1)}x less`);
    row(`${rate}: CPU per tick (us)`, f(native.cpuPerTickUs, 1), f(js.cpuPerTickUs, 1), `${f(js.cpuPerTickUs / native.cpuPerTickUs, 1)}x less`);
  }
} finally {
  await writer.stop();
  removeRoot(root);
}
