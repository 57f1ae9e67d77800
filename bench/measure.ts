// What measure() adds to the function it measures: a tight loop run bare and inside
// measure(), in interleaved blocks of the same run, on a fake tree of 5 powercap zones
// that a writer process advances every millisecond. `npm run bench:measure` (about 40 s).
//
// Three times per loop size, medians over the runs:
//   bare      the loop alone, no sampler running
//   sampled   the loop alone while the sampler thread samples at 1 kHz (its cost alone)
//   inside    the loop as measure() timed it (segment durationMs)
// and the wall time of the whole `await measure(fn)` call, which also waits for the first
// counter update after the end (about one update interval) to bracket it.
import { cpus, release } from 'node:os';
import { measure, openSampler } from '../lib/index.js';
import { FakeWriter, fakePowercap, fiveZones, removeRoot, tempRoot } from '../fixtures/fake-rapl.js';

function loop(iterations: number): number {
  let x = 0;
  for (let i = 0; i < iterations; i++) x = (x + i * i) % 1_000_003;
  return x;
}

function timed(body: () => void): number {
  const start = performance.now();
  body();
  return performance.now() - start;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Iterations of loop() that take about `ms`. */
function calibrate(ms: number): number {
  let n = 1000;
  while (timed(() => loop(n)) < 20) n *= 2;
  return Math.max(1, Math.round((n * ms) / timed(() => loop(n))));
}

const root = tempRoot('wattmeter-bench-');
const writer = await FakeWriter.start(fakePowercap(root, fiveZones()));
using sampler = openSampler({ sysfsRoot: root, rateHz: 1000 });
const ROUNDS = 5;

console.log(`measure() overhead: ${cpus().length} x ${cpus()[0]?.model}, Linux ${release()}, Node ${process.version}`);
console.log('sampler 1 kHz, 5 powercap domains; medians of interleaved runs\n');
console.log('loop ms | bare ms | sampled/bare | inside/bare | measure() call ms | call/bare');
console.log('------- | ------- | ------------ | ----------- | ----------------- | ---------');
for (const ms of [0.1, 1, 10, 100]) {
  const n = calibrate(ms);
  const runs = Math.max(5, Math.min(50, Math.round(200 / ms)));
  const bare: number[] = [];
  const sampled: number[] = [];
  const inside: number[] = [];
  const call: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    sampler.stop();
    for (let i = 0; i < runs; i++) bare.push(timed(() => loop(n)));
    sampler.start();
    for (let i = 0; i < runs; i++) sampled.push(timed(() => loop(n)));
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      const { energy } = await measure(() => loop(n), { sampler });
      call.push(performance.now() - start);
      inside.push(energy.durationMs);
    }
  }
  const b = median(bare);
  const row = [ms, b.toFixed(3), (median(sampled) / b).toFixed(3), (median(inside) / b).toFixed(3), median(call).toFixed(3), (median(call) / b).toFixed(2)];
  console.log(row.join(' | '));
}

await writer.stop();
removeRoot(root);
