// What the live page costs: `wattmeter serve` at 1 kHz on a fake five-domain powercap tree,
// its CPU (user + system, from /proc) with no page open, then with one page open in a real
// headless chromium, then with none again, in one run: the added share of a core is the
// page's cost to the server (goal: at most 2 %). And the page's own cost: the share of
// wall time chromium's main thread was busy (DevTools protocol, Performance.getMetrics
// TaskDuration; goal: under 20 %).
//
//   npm run bench:serve [-- --seconds 10]
//
// With --screenshot FILE it measures nothing: it writes a 50 ms burst of 150 W on
// package-0 (20 W otherwise) and takes a picture of the page a minute in (docs/serve.png).
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { availableParallelism, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { spawnWattmeter } from '../fixtures/cli.js';
import { launchChromium } from '../fixtures/browser.js';
import { FakeWriter, fakePowercap, fiveZones, removeRoot, tempRoot } from '../fixtures/fake-rapl.js';
import { freePort } from '../fixtures/servers.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, screenshot: { type: 'string' } } });
const seconds = Number(values.seconds);
const TICKS_PER_S = 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s

/** CPU seconds the process has used (user + system, every thread). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S; // utime, stime
}

/** The serve process's share of one core over `seconds`, and what `during` measured meanwhile. */
async function measure<T>(pid: number, during: () => Promise<T>): Promise<{ percent: number; extra: T }> {
  const cpu0 = cpuSeconds(pid);
  const wall0 = performance.now();
  const extra = await during();
  return { percent: ((cpuSeconds(pid) - cpu0) / ((performance.now() - wall0) / 1000)) * 100, extra };
}

const root = tempRoot();
const writer = await FakeWriter.start(fakePowercap(root, fiveZones()), 1, { fifo: true });
const port = await freePort();
const serve = spawnWattmeter(['serve', '--sysfs-root', root, '--source', 'powercap', '--rate', '1000', '--port', String(port)]);
let output = '';
serve.stdout.on('data', (chunk) => (output += chunk));
serve.stderr.on('data', (chunk) => (output += chunk));
while (!output.includes('live page on')) {
  if (serve.exitCode !== null) throw new Error(`serve exited: ${output}`);
  await sleep(50);
}
const pid = serve.pid!;
const idle = () => sleep(seconds * 1000);
await sleep(2000); // past the start-up
const startedMs = performance.now();

if (values.screenshot) {
  const chromium = await launchChromium();
  const page = await chromium.browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.selectOption('#interval', '5');
  await sleep(44_000);
  await writer.setWatts('package-0', 150);
  await sleep(50);
  await writer.setWatts('package-0', 20);
  await sleep(16_000); // the burst 15 s before the right edge, the chart a full minute
  await page.screenshot({ path: values.screenshot, fullPage: true });
  await chromium.close();
  serve.kill('SIGTERM');
  await once(serve, 'exit');
  await writer.stop();
  removeRoot(root);
  process.exit(0);
}

const before = await measure(pid, idle);
// The page opens on a full minute of history (the server sends it on connecting), as it
// holds once open for a minute.
await sleep(Math.max(0, startedMs + 61_000 - performance.now()));
const chromium = await launchChromium();
const page = await chromium.browser.newPage({ viewport: { width: 1280, height: 900 } });
await page.goto(`http://127.0.0.1:${port}/`);
const cdp = await page.context().newCDPSession(page);
await cdp.send('Performance.enable');
await sleep(2000); // the page is drawing
// TaskDuration: wall time in the main thread's tasks (the goal's measure: on a loaded
// machine it counts the time the thread waited for a CPU mid-task too); ThreadTime: the
// main thread's CPU time.
const metrics = async () => {
  const all = (await cdp.send('Performance.getMetrics')).metrics;
  return { task: all.find((m) => m.name === 'TaskDuration')!.value, thread: all.find((m) => m.name === 'ThreadTime')!.value };
};
const open = await measure(pid, async () => {
  const m0 = await metrics();
  const wall0 = performance.now();
  const [draws0, cost0] = await page.evaluate(() => [(globalThis as any).wattmeterLive.draws.count as number, (globalThis as any).wattmeterLive.draws.costMs as number]);
  await idle();
  const wallS = (performance.now() - wall0) / 1000;
  const [draws1, cost1] = await page.evaluate(() => [(globalThis as any).wattmeterLive.draws.count as number, (globalThis as any).wattmeterLive.draws.costMs as number]);
  const draws = draws1 - draws0;
  const points = await page.evaluate(() => (globalThis as any).wattmeterLive.chart.data[0].length as number);
  const m1 = await metrics();
  return { busy: (m1.task - m0.task) / wallS, cpu: (m1.thread - m0.thread) / wallS, drawsPerS: draws / wallS, drawMs: (cost1 - cost0) / draws, points };
});
await chromium.close();
await sleep(1000);
const after = await measure(pid, idle);

serve.kill('SIGTERM');
await once(serve, 'exit');
await writer.stop();
removeRoot(root);

const baseline = (before.percent + after.percent) / 2;
const row = (name: string, value: string) => console.log(`${name.padEnd(44)}${value}`);
console.log(`wattmeter serve, 1 kHz x 5 domains (fake powercap tree), ${seconds} s per phase, load average ${loadavg()[0].toFixed(1)} on ${availableParallelism()} CPUs`);
row('serve CPU, no page (before, after)', `${before.percent.toFixed(2)} %, ${after.percent.toFixed(2)} % of a core`);
row('serve CPU, one page open', `${open.percent.toFixed(2)} % of a core`);
row('added by the page (goal <= 2 %)', `${(open.percent - baseline).toFixed(2)} % of a core`);
row('chromium main thread busy (goal < 20 %)', `${(open.extra.busy * 100).toFixed(1)} % of wall time in tasks, ${(open.extra.cpu * 100).toFixed(1)} % on a CPU`);
row('page draws', `${open.extra.drawsPerS.toFixed(1)} per second, ${open.extra.drawMs.toFixed(1)} ms of script each, ${open.extra.points} points per domain drawn`);
