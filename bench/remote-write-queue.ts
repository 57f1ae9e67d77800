// What the durable remote-write queue costs against the in-memory one, at the exporter's
// heaviest ordinary load: 1 kHz x 5 domains (10 series: energy and power), pushed once a
// second as the exporter's drains do, to a local receiver (another process) that answers
// 204. Same run, ~10 s each after a 3 s warm-up of each: CPU of this process per second and per sample; disk bytes
// per sample (the segment format); memory per waiting sample with the receiver away
// (60 s of backlog held, in array buffers).
//   npm run bench:queue   (node dist/bench/remote-write-queue.js [seconds])
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DiskQueue } from '../lib/prometheus/disk-queue.js';
import { RemoteWritePusher } from '../lib/prometheus/pusher.js';
import { SampleQueue, type PendingSamples, type Series } from '../lib/prometheus/queue.js';
import { sortedLabels } from '../lib/prometheus/prompb.js';

const SECONDS = Number(process.argv[2] ?? 10);
const RATE_HZ = 1000;
const DOMAINS = ['package-0', 'core-0', 'uncore-0', 'dram-0', 'psys'];
const SERIES_COUNT = DOMAINS.length * 2;

/** One drain's worth: 1000 rows of 10 series, from startMs. */
function drain(startMs: number): { timestampsMs: Float64Array; values: Float64Array[] } {
  const timestampsMs = Float64Array.from({ length: RATE_HZ }, (_, i) => startMs + i);
  return { timestampsMs, values: Array.from({ length: SERIES_COUNT }, (_, s) => timestampsMs.map((t) => (t / 1000) * (s + 1))) };
}

async function receiver(): Promise<{ url: string; stop: () => void }> {
  const code = `require('http').createServer((q, s) => { q.resume(); q.on('end', () => s.writeHead(204).end()); })
    .listen(0, '127.0.0.1', function () { console.log(this.address().port); });`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [port] = (await once(child.stdout!, 'data')) as [Buffer];
  return { url: `http://127.0.0.1:${String(port).trim()}/api/v1/write`, stop: () => child.kill() };
}

async function run(url: string, queueDir: string | undefined, seconds = SECONDS) {
  const pusher = new RemoteWritePusher({ url, queueDir, pushIntervalMs: 1000, job: 'bench', instance: 'bench' }, 10_000_000);
  const series = DOMAINS.flatMap((domain) => ['energy', 'power'].map((m) => pusher.series(`bench_${m}`, { domain })));
  let nextMs = Date.now();
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < seconds; i++) {
    const { timestampsMs, values } = drain(nextMs);
    pusher.push(series, timestampsMs, values);
    nextMs += 1000;
    await sleep(nextMs - Date.now());
  }
  await pusher.close();
  const used = process.cpuUsage(cpu);
  const elapsedS = (performance.now() - started) / 1000;
  const stats = pusher.stats();
  return { cpuMsPerS: (used.user + used.system) / 1000 / elapsedS, usPerSample: (used.user + used.system) / stats.sent, sent: stats.sent, dropped: stats.dropped };
}

/** Disk bytes and array-buffer bytes per sample for 60 s of backlog held in a queue. */
function footprint(make: () => PendingSamples & { stats?: () => { bytes: number } }) {
  const series: Series[] = Array.from({ length: SERIES_COUNT }, (_, s) => ({ labels: sortedLabels('bench', { s: String(s) }) }));
  globalThis.gc?.();
  const before = process.memoryUsage().arrayBuffers;
  const queue = make();
  for (let i = 0; i < 60; i++) {
    const { timestampsMs, values } = drain(1e12 + i * 1000);
    queue.push(series, timestampsMs, values);
  }
  globalThis.gc?.();
  const ram = (process.memoryUsage().arrayBuffers - before) / queue.length;
  const disk = (queue.stats?.().bytes ?? 0) / queue.length;
  queue.close();
  return { ram, disk };
}

const { url, stop } = await receiver();
const dir = mkdtempSync(path.join(tmpdir(), 'wattmeter-bench-queue-'));
try {
  // Warm-up (JIT, connections, the page cache), then the measured runs.
  await run(url, undefined, 3);
  await run(url, path.join(dir, 'warm'), 3);
  const memory = await run(url, undefined);
  const disk = await run(url, path.join(dir, 'run'));
  const memoryFoot = footprint(() => new SampleQueue(10_000_000));
  const diskFoot = footprint(() => new DiskQueue(path.join(dir, 'footprint'), 1 << 30, () => {}));
  const rows = [
    ['queue', 'CPU ms/s', 'CPU us/sample', 'disk B/sample', 'RAM B/waiting sample', 'sent', 'dropped'],
    ['memory', memory.cpuMsPerS.toFixed(2), memory.usPerSample.toFixed(3), '0', memoryFoot.ram.toFixed(1), String(memory.sent), String(memory.dropped)],
    ['disk', disk.cpuMsPerS.toFixed(2), disk.usPerSample.toFixed(3), diskFoot.disk.toFixed(2), diskFoot.ram.toFixed(3), String(disk.sent), String(disk.dropped)],
    ['disk/memory', (disk.cpuMsPerS / memory.cpuMsPerS).toFixed(2), (disk.usPerSample / memory.usPerSample).toFixed(2), '', (diskFoot.ram / memoryFoot.ram).toFixed(4), '', ''],
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  console.log(`remote-write queue at ${RATE_HZ} Hz x ${DOMAINS.length} domains (${SERIES_COUNT} series), ${SECONDS} s each, Node ${process.version}`);
  for (const r of rows) console.log(r.map((cell, c) => cell.padStart(widths[c])).join('  '));
  if (!globalThis.gc) console.log('(run with node --expose-gc for steadier RAM figures)');
} finally {
  stop();
  rmSync(dir, { recursive: true, force: true });
}
