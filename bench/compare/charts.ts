// The report's charts, drawn by Vega-Lite and rendered to SVG headless by Vega (no canvas,
// no browser): resolution and exporter CPU against the sampling rate, one line per
// strategy and one panel per interval; and the 50 ms burst as each strategy stored it.
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { CHART_WINDOW_MS, chartPoints } from './burst.js';
import type { CellResult, Comparison } from '../../fixtures/compare-report.js';

// The same colour for a strategy in every chart; the truth only where there is one.
const STRATEGY_COLORS = { domain: ['simple', 'multirate', 'remote_write'], range: ['#e45756', '#4c78a8', '#54a24b'] };
const WITH_TRUTH = { domain: [...STRATEGY_COLORS.domain, 'truth'], range: [...STRATEGY_COLORS.range, '#888888'] };

async function svg(spec: vl.TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  const text = await view.toSVG();
  view.finalize();
  return text;
}

const interval = (cell: CellResult) => `every ${cell.intervalS} s`;

/** A log-log line per strategy against the sampling rate, one panel per interval. */
function againstRate(c: Comparison, field: string, title: string, pick: (s: CellResult['strategies'][number]) => number): vl.TopLevelSpec {
  const values = c.cells.flatMap((cell) =>
    cell.strategies.map((s) => ({ rateHz: cell.rateHz, interval: interval(cell), strategy: s.strategy, [field]: pick(s) })),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values: values.filter((v) => Number.isFinite(v[field]) && (v[field] as number) > 0) },
    facet: { column: { field: 'interval', title: 'scrape / push interval', sort: { field: 'rateHz' } } },
    spec: {
      width: 220,
      height: 200,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'rateHz', type: 'quantitative', scale: { type: 'log' }, title: 'sampling rate (Hz)' },
        y: { field, type: 'quantitative', scale: { type: 'log' }, title },
        color: { field: 'strategy', type: 'nominal', scale: STRATEGY_COLORS },
      },
    },
  };
}

/** Stored power around the burst, and the truth, one panel per cell. */
function burst(c: Comparison): vl.TopLevelSpec | undefined {
  const cells = c.cells.filter((cell) => cell.burst && cell.truthW !== null);
  if (cells.length === 0) return undefined;
  const values = cells.flatMap((cell) => {
    const labels = { rate: `${cell.rateHz} Hz`, rateHz: cell.rateHz, interval: interval(cell), intervalS: cell.intervalS };
    const base = cell.truthW!;
    const peak = base + cell.burst!.extraW;
    const truth = [[-CHART_WINDOW_MS, base], [0, base], [cell.burst!.durationMs, peak], [CHART_WINDOW_MS, base]].map(([ms, watts]) => ({ ...labels, strategy: 'truth', ms, watts }));
    const stored = cell.strategies.flatMap((s) => chartPoints(s.burst?.points ?? []).map((p) => ({ ...labels, strategy: s.strategy, ...p })));
    return [...truth, ...stored];
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'A burst of +100 W for about 50 ms as each strategy stored it (wattmeter_power_watts)',
      subtitle: 'step: each sample stands for the time since the previous one (simple: the 1 s before its scrape)',
    },
    data: { values },
    facet: {
      row: { field: 'rate', title: 'sampling rate', sort: { field: 'rateHz' } },
      column: { field: 'interval', title: 'scrape / push interval', sort: { field: 'intervalS' } },
    },
    spec: {
      width: 240,
      height: 140,
      mark: { type: 'line', interpolate: 'step-before', clip: true, strokeWidth: 1.5 },
      encoding: {
        x: { field: 'ms', type: 'quantitative', scale: { domain: [-CHART_WINDOW_MS, CHART_WINDOW_MS] }, title: 'ms from the burst' },
        y: { field: 'watts', type: 'quantitative', title: 'W' },
        color: { field: 'strategy', type: 'nominal', scale: WITH_TRUTH },
        strokeDash: { condition: { test: "datum.strategy === 'truth'", value: [4, 3] }, value: [1, 0] },
      },
    },
  };
}

/** File name -> SVG text. */
export async function renderCharts(c: Comparison): Promise<Record<string, string>> {
  const charts: Record<string, string> = {
    'resolution.svg': await svg(againstRate(c, 'storedPerS', 'samples stored per second per series', (s) => s.storedPerS)),
    'cpu.svg': await svg(againstRate(c, 'exporterCpuPct', 'exporter CPU (% of one core)', (s) => s.exporterCpuPct)),
  };
  const burstSpec = burst(c);
  if (burstSpec) charts['burst.svg'] = await svg(burstSpec);
  return charts;
}
