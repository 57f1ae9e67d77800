// `npm run compare -- --quick`, run as a user runs it, into a temporary directory: the
// report and its figures must be sane. It starts three Prometheus servers and three
// exporters per cell (about a minute in all), so it runs alone in its file.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Comparison, StrategyResult } from '../fixtures/compare-report.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url)); // dist/test -> repository

function runQuick(out: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'dist/bench/compare.js'), '--quick', '--out', out], { timeout: 170_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, output: stdout + stderr });
    });
  });
}

// Every figure a report cell shows; burst and outage fields are checked apart.
const FIGURES = [
  'sampledPerS', 'storedPerS', 'completeness', 'droppedPerS', 'sharedTicks', 'maxGapMs', 'meanPowerW', 'ratePowerW', 'exporterCpuPct', 'exporterPeakMiB',
  'prometheusCpuPct', 'prometheusRssMiB', 'diskBytesPerSample', 'wireBytesPerSample', 'latencyP50Ms', 'latencyMaxMs',
  'outageMaxGapMs', 'outageLostS',
] as const satisfies readonly (keyof StrategyResult)[];

test('npm run compare -- --quick writes a sane report', async (t) => {
  t.timeout(180_000);
  const out = mkdtempSync(path.join(tmpdir(), 'wattmeter-compare-test-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));

  const { code, output } = await runQuick(out);
  t.is(code, 0, output);
  if (code !== 0) return;

  const comparison = JSON.parse(readFileSync(path.join(out, 'compare.json'), 'utf8')) as Comparison;
  t.true(comparison.cells.length >= 2, 'at least two sampling rates, for the charts');
  // What each lane delivered, so that a failure below says where the samples went.
  for (const cell of comparison.cells) {
    for (const s of cell.strategies) {
      t.log(`${cell.rateHz} Hz ${s.strategy}: stored ${s.storedPerS.toFixed(1)}/s of ${s.sampledPerS.toFixed(1)}/s, dropped ${s.droppedPerS}/s, longest gap ${s.maxGapMs} ms, failed scrapes ${s.failedScrapes}, latency samples ${s.latencySamples}, burst points ${s.burst?.points.length}`);
    }
  }
  for (const cell of comparison.cells) {
    const where = `${cell.rateHz} Hz, ${cell.intervalS} s`;
    t.deepEqual(cell.strategies.map((s) => s.strategy).sort(), ['multirate', 'remote_write', 'simple'], where);
    t.truthy(cell.burst, `${where}: a burst was injected`);
    for (const s of cell.strategies) {
      const at = `${where}, ${s.strategy}`;
      for (const figure of FIGURES) t.true(Number.isFinite(s[figure]), `${at}: ${figure} is ${s[figure]}`);
      t.true(s.completeness >= 0 && s.completeness <= 1, `${at}: completeness ${s.completeness}`);
      t.true(s.storedPerS > 0 && s.sampledPerS > 0, `${at}: something was sampled and stored`);
      t.true(s.latencySamples > 0, `${at}: latency was observed`);
      t.is(s.failedScrapes === null, s.strategy === 'remote_write', `${at}: failed scrapes counted for the pull strategies`);
      // What the outage costs each strategy, qualitatively: simple loses the span, remote
      // write's queue keeps it. (Multirate keeps it too when its 30 s window covers it.)
      if (s.strategy === 'simple') t.true(s.outageLostS >= cell.outageS - 1, `${at}: lost ${s.outageLostS} s of a ${cell.outageS} s outage`);
      if (s.strategy === 'remote_write') t.true(s.outageLostS < 1, `${at}: lost ${s.outageLostS} s`);
      t.true(s.burst !== null && Number.isFinite(s.burst.gaugeJ) && s.burst.points.length > 0, `${at}: the burst was read back`);
      // Mean power (rate() of the stored energy counter) within 10 % of the known watts
      // wherever the strategy stored enough samples over the steady span for a rate. The
      // gauge's plain average is reported, not checked: it follows the fake writer's stalls
      // on a busy machine (see the report's accuracy section).
      if (s.storedPerS * cell.steadyS >= 3) {
        t.true(Math.abs(s.ratePowerW - cell.truthW!) <= 0.1 * cell.truthW!, `${at}: ${s.ratePowerW} W is not within 10 % of ${cell.truthW} W`);
      }
    }
  }

  const report = readFileSync(path.join(out, 'compare.md'), 'utf8');
  t.notRegex(report, /NaN|undefined|Infinity/);
  for (const heading of ['## Headline', '## Resolution', '## Accuracy', '## Cost', '## Latency', '## Robustness']) t.true(report.includes(heading), heading);
  for (const chart of ['resolution.svg', 'cpu.svg', 'burst.svg']) {
    t.true(report.includes(`](${chart})`), `${chart} is linked`);
    t.regex(readFileSync(path.join(out, chart), 'utf8'), /^<svg[^>]*>[\s\S]*<\/svg>$/, chart);
  }
});
