// The live page of `wattmeter serve` in a real browser (Debian's chromium, headless), on a
// fake powercap tree: what the page holds and shows is checked against what the sampler
// stored and what the fake hardware recorded it wrote, never against a nominal rate.
import test, { type ExecutionContext } from 'ava';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import type { Page } from 'playwright-core';
import { concatBatches, openSampler, type Batch, type SamplerOptions } from '../lib/index.js';
import { MillisecondFolder } from '../lib/exporters/fold.js';
import { startServe } from '../lib/serve/server.js';
import { launchChromium } from '../fixtures/browser.js';
import { FakeWriter, fakePowercap, fiveZones, removeRoot, tempRoot } from '../fixtures/fake-rapl.js';
import { samplerClock } from '../fixtures/truth.js';

const WATTS: Record<string, number> = { 'package-0': 20, 'core-0': 12, 'uncore-0': 2, 'dram-0': 3, psys: 30 };

/** A fake tree at WATTS, a 1 kHz sampler on it whose every tick the test keeps, and serve on it. */
async function serving(t: ExecutionContext, port = 0, extra: SamplerOptions = {}) {
  const root = tempRoot();
  const zones = fiveZones({ package: WATTS['package-0'], core: WATTS['core-0'], uncore: WATTS['uncore-0'], dram: WATTS['dram-0'], psys: WATTS.psys });
  // SCHED_FIFO where allowed: a stalled writer would leave the files standing still.
  const writer = await FakeWriter.start(fakePowercap(root, zones), 1, { fifo: true });
  t.teardown(async () => {
    await writer.stop();
    removeRoot(root);
  });
  const open = async (onPort: number) => {
    const sampler = openSampler({ sysfsRoot: root, source: 'powercap', rateHz: 1000, ...extra });
    const batches: Batch[] = [];
    sampler.subscribe((batch) => batches.push(batch), { maxDelayMs: 1000 }); // before serve starts it
    const served = await startServe({ sampler, port: onPort });
    const close = async () => {
      await served.close();
      sampler.close();
    };
    t.teardown(close);
    return { sampler, served, close, ticks: () => concatBatches(batches) };
  };
  return { writer, open, ...(await open(port)) };
}

/** A browser page with its console errors collected; `go` opens the URL. */
async function browserPage(t: ExecutionContext): Promise<{ page: Page; errors: string[] }> {
  const chromium = await launchChromium();
  t.teardown(() => chromium.close());
  const page = await chromium.browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
  page.on('pageerror', (error) => errors.push(error.message));
  return { page, errors };
}

async function livePage(t: ExecutionContext, url: string): Promise<{ page: Page; errors: string[] }> {
  const opened = await browserPage(t);
  await opened.page.goto(url);
  return opened;
}

/** The samples the page holds (timestamps, first domain's watts), and what its chart draws of them. */
function pageData(page: Page): Promise<{ x: number[]; y: number[]; drawn: { x: number[]; y: number[] } }> {
  return page.evaluate(() => {
    const live = (globalThis as any).wattmeterLive;
    const data = live.chart.data;
    return { ...live.samples(0), drawn: { x: Array.from(data[0] as ArrayLike<number>), y: Array.from(data[1] as ArrayLike<number>) } };
  });
}

test.serial('the page loads with no console error, holds every stored sample within 2 s, charts every extreme of them and shows the tree\'s watts', async (t) => {
  const { sampler, served, ticks } = await serving(t);
  const { page, errors } = await browserPage(t);
  const openedMs = sampler.nowMs();
  await page.goto(served.url);
  await page.waitForTimeout(Math.max(0, 2000 - (sampler.nowMs() - openedMs)));
  // The samples are due within 2 s; the chart is checked once it has drawn (a starved
  // renderer may not have yet: the draws are timed, the samples are not).
  await page.waitForFunction(() => (globalThis as any).wattmeterLive.chart?.data[0].length > 0);
  const { x, y, drawn } = await pageData(page);
  // What the sampler stored up to the page's newest sample, folded to ms as the stream does.
  const folded = new MillisecondFolder(sampler.domains).push(ticks());
  const expected = Array.from(folded.timestampsMs).filter((ms) => ms <= x[x.length - 1]);
  t.true(x.length > 0 && x[x.length - 1] >= Math.floor(openedMs), `the page reaches the moment it opened (${x.length} samples)`);
  t.is(x.length, expected.length, 'one sample per stored millisecond, none missing, none extra');
  t.deepEqual(x, expected);
  const worst = y.reduce((w, watts, i) => Math.max(w, Math.abs(watts - folded.powerW[0][i])), 0);
  t.true(worst <= 0.0005 + 1e-9, `each sample is the stored watts to the milliwatt (worst ${worst})`);
  // The chart draws a few points per pixel column that keep every extreme: its line starts
  // on the first sample, and has
  // the same lowest and highest watts as the samples up to its last draw.
  const upTo = x.indexOf(drawn.x[drawn.x.length - 1]) + 1;
  t.true(upTo > 0, 'the chart ends on a sample');
  t.is(drawn.x[0], x[0]);
  t.is(Math.max(...drawn.y), Math.max(...y.slice(0, upTo)));
  t.is(Math.min(...drawn.y), Math.min(...y.slice(0, upTo)));
  // The cards: each domain's watts over the last second of what the sampler stored from
  // the tree (a writer stalled by a busy machine moves the files' power, and the page must
  // show what was read, not what was meant).
  await page.waitForTimeout(1000 - Math.min(1000, x[x.length - 1] - x[0])); // a full second to average
  const { shown, lastMs } = await page.evaluate(() => ({
    shown: Array.from(document.querySelectorAll<HTMLElement>('.card')).map((c) => [c.dataset.domain!, c.querySelector('[data-watts]')!.textContent!]),
    lastMs: (globalThis as any).wattmeterLive.samples(0).x.at(-1) as number,
  }));
  t.is(shown.length, 5);
  const stored = new MillisecondFolder(sampler.domains).push(ticks());
  const storedWatts = (d: number) => {
    const end = Array.from(stored.timestampsMs).lastIndexOf(lastMs);
    let i = end;
    while (i > 0 && lastMs - stored.timestampsMs[i - 1] <= 1000) i--;
    let joules = 0;
    for (let j = i + 1; j <= end; j++) joules += stored.powerW[d][j] * (stored.timestampsMs[j] - stored.timestampsMs[j - 1]);
    return joules / (stored.timestampsMs[end] - stored.timestampsMs[i]);
  };
  for (const [domain, text] of shown) {
    const expected = storedWatts(sampler.domains.findIndex((dom) => dom.name === domain));
    t.true(Math.abs(Number(text) - expected) <= 0.02 * expected, `${domain}: ${text} W shown, ${expected} W stored over the second the page averaged`);
  }
  // This sampler does not attribute: the panel says how to make it.
  t.regex((await page.textContent('#attribution'))!, /wattmeter serve --cgroups.*--all-processes/);
  t.deepEqual(errors, []);
});

test.serial('a power step on the fake tree is drawn within 200 ms of the write', async (t) => {
  const { sampler, served, writer } = await serving(t);
  const clock = samplerClock(sampler);
  const { page, errors } = await livePage(t, served.url);
  await page.waitForFunction(() => (globalThis as any).wattmeterLive.draws.count > 5);
  await writer.setWatts('package-0', 80);
  // The first write at the new power: every write after setWatts's own booking of the old one.
  const record = (await writer.record())['package-0'];
  let step = record.counts.length - 1;
  const rate = (i: number) => ((record.counts[i] - record.counts[i - 1]) * record.unitUj) / ((record.afterMs[i] - record.afterMs[i - 1]) * 1000);
  while (step > 1 && rate(step - 1) > 50) step--;
  const writtenMs = record.afterMs[step] + clock.hiMs; // the latest the step could have reached the file
  const found = await page.waitForFunction(
    ([from]) => {
      const live = (globalThis as any).wattmeterLive;
      const at = live.firstAbove(0, from, 50);
      if (Number.isNaN(at)) return false;
      const { atMs, dataMs, count } = live.draws;
      for (let k = Math.max(0, count - atMs.length); k < count; k++) if (dataMs[k % atMs.length] >= at) return [at, atMs[k % atMs.length]];
      return false;
    },
    [Math.floor(record.beforeMs[step] + clock.loMs)],
    { timeout: 5000 },
  );
  const [sampleMs, drawnMs] = (await found.jsonValue()) as [number, number];
  t.log(`step written at ${writtenMs.toFixed(1)}, sampled at ${sampleMs}, drawn at ${drawnMs}: ${(drawnMs - writtenMs).toFixed(0)} ms`);
  t.true(sampleMs >= Math.floor(writtenMs) - 1, 'the step is drawn at the time it happened');
  t.true(drawnMs - writtenMs <= 200, `drawn ${(drawnMs - writtenMs).toFixed(0)} ms after the write`);
  t.deepEqual(errors, []);
});

test.serial('the page reconnects when the server restarts, and starts over from the new one', async (t) => {
  const first = await serving(t);
  const { page, errors } = await livePage(t, first.served.url);
  await page.waitForFunction(() => (globalThis as any).wattmeterLive.chart?.data[0].length > 0);
  const firstId = await page.evaluate(() => (globalThis as any).wattmeterLive.serverId);
  const stoppedMs = first.sampler.nowMs(); // every later sampler's ticks come after this
  await first.close();
  await page.waitForFunction(() => document.getElementById('status')!.textContent !== 'live');
  await first.open(first.served.port);
  await page.waitForFunction((id) => (globalThis as any).wattmeterLive.serverId !== id && (globalThis as any).wattmeterLive.chart?.data[0].length > 0, firstId, { timeout: 5000 });
  const { x } = await pageData(page);
  t.true(x[0] >= Math.floor(stoppedMs), 'only the new server\'s samples are held');
  t.is(await page.textContent('#status'), 'live');
  // The browser reports the refused connections while the server was down; nothing else.
  t.deepEqual(errors.filter((e) => !/ERR_CONNECTION_REFUSED|net::ERR_/.test(e)), []);
});

test.serial('the attribution panel lists a busy child with the joules the sampler attributed to it', async (t) => {
  const child = fork(new URL('../fixtures/busy-child.js', import.meta.url), ['0.5'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  t.teardown(() => void child.kill('SIGKILL'));
  await once(child, 'message');
  const { sampler, served } = await serving(t, 0, { pids: [child.pid!] });
  // The sampler's totals for the child at every drain, by interval end: what the panel must show.
  const totals = new Map<number, { joules: number; measured: number }>();
  sampler.subscribe(() => {
    const view = sampler.attribution!.totals('process')!;
    const own = view.consumers.find((c) => c.consumer.pid === child.pid);
    if (own) totals.set(view.endMs, { joules: own.energyUj[0] / 1e6, measured: view.measuredUj[0] / 1e6 });
  });
  const { page, errors } = await livePage(t, served.url);
  const row = `#attribution table[data-kind="process"] tr[data-id="${child.pid}"]`;
  await page.waitForFunction((selector) => Number(document.querySelector(selector)?.children[3].textContent) >= 5, row, { timeout: 10_000 });
  const shown = await page.evaluate((selector) => {
    const table = document.querySelector<HTMLElement>('#attribution table[data-kind="process"]')!;
    const cells = Array.from(document.querySelector(selector)!.children, (c) => c.textContent!);
    return { cells, endMs: Number(table.dataset.endMs), text: document.getElementById('attribution')!.textContent! };
  }, row);
  const truth = totals.get(shown.endMs);
  t.truthy(truth, `the sampler attributed up to ${shown.endMs}, the end the panel shows`);
  const [name, pid, watts, joules] = shown.cells; // joules to 0.1 J, at least 5 J: within 1 %
  t.log(`shown: ${shown.cells.join(' | ')}; sampler: ${truth!.joules.toFixed(3)} J of ${truth!.measured.toFixed(3)} J measured`);
  t.is(name, 'node');
  t.is(pid, String(child.pid));
  t.true(Number(watts) > 0, `${watts} W over the last second`);
  t.true(Number(joules) <= truth!.measured, 'no more than the package measured');
  t.true(Math.abs(Number(joules) - truth!.joules) <= 0.02 * truth!.joules, `${joules} J shown, ${truth!.joules} J attributed`);
  t.regex(shown.text, /attributed by CPU time: an estimate/i);
  t.deepEqual(errors, []);
});
