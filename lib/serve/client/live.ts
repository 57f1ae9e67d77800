// The live page's script, run in the browser (compiled by tsc like the rest, served as
// /live.js). It keeps the last minute of every millisecond sample per domain in typed
// arrays, receives them in batches from /events (server-sent events, every 50 ms), and
// redraws the charts with uPlot ten times a second, in an animation frame.
/// <reference lib="dom" />

type UPlot = import('uplot');
declare const uPlot: typeof import('uplot');

interface Hello {
  id: string;
  source: string;
  rateHz: number;
  windowMs: number;
  domains: { name: string; source: string }[];
  warnings: string[];
  estimate: string | null;
  paths: Record<string, string>;
}

/** One batch: integer-ms timestamps, per domain watts since the previous sample and joules since start. */
interface Samples {
  t: number[];
  w: number[][];
  j: number[];
}

interface Health {
  achievedRateHz: number;
  rateHz: number;
  latenessUs: { p50: number; p99: number; max: number };
  dropped: number;
  overruns: number;
  effectiveResolutionHz: Record<string, number>;
  remoteWrite: { url: string; sent: number; failed: number; dropped: number } | null;
}

/** The attribution event (lib/serve/attribution.ts): null when the sampler does not attribute. */
type Attribution = {
  views: {
    kind: 'process' | 'cgroup';
    domains: string[];
    endMs: number | null;
    measuredJoules: number;
    top: { name: string; id: string; watts: number | null; joules: number }[];
    unattributed: { watts: number | null; joules: number };
  }[];
} | null;

const COLORS = ['#f59e0b', '#38bdf8', '#a78bfa', '#34d399', '#f472b6', '#facc15', '#60a5fa', '#fb7185'];
// 10 redraws a second: the chart moves 2 pixels at a time over a minute, and the main
// thread stays about 12 % busy with a full minute at 1 kHz x 5 domains (bench/serve.ts).
const DRAW_EVERY_MS = 100;
const TEXT_EVERY_MS = 250;
const CAPACITY = 1 << 16; // > 60 000: a minute at one sample per ms, with room for a late batch

/**
 * A window of samples in typed arrays. Every value is written twice, at i and i + CAPACITY,
 * so the newest `length` samples are always one contiguous view: uPlot draws from it with
 * no copy.
 */
class Window {
  readonly x = new Float64Array(2 * CAPACITY);
  readonly y: Float64Array[];
  start = 0;
  length = 0;
  constructor(domains: number) {
    this.y = Array.from({ length: domains }, () => new Float64Array(2 * CAPACITY));
  }
  /** Appends sample k of a batch's columns. */
  push(t: number, columns: number[][], k: number): void {
    if (this.length === CAPACITY) this.#dropFirst();
    const i = (this.start + this.length) % CAPACITY;
    this.x[i] = this.x[i + CAPACITY] = t;
    for (let d = 0; d < columns.length; d++) this.y[d][i] = this.y[d][i + CAPACITY] = columns[d][k];
    this.length++;
  }
  trim(fromMs: number): void {
    while (this.length > 0 && this.x[this.start] < fromMs) this.#dropFirst();
  }
  #dropFirst(): void {
    this.start = (this.start + 1) % CAPACITY;
    this.length--;
  }
  view(a: Float64Array): Float64Array {
    return a.subarray(this.start, this.start + this.length);
  }
  get last(): number {
    return this.length === 0 ? NaN : this.x[this.start + this.length - 1];
  }
}

/** Decimated columns, reused from draw to draw. */
class Decimated {
  x = new Float64Array(0);
  y: Float64Array[] = [];
  length = 0;
  reserve(points: number, series: number): void {
    if (this.x.length >= points && this.y.length === series) return;
    this.x = new Float64Array(points);
    this.y = Array.from({ length: series }, () => new Float64Array(points));
  }
  get data(): uPlot.AlignedData {
    return [this.x.subarray(0, this.length), ...this.y.map((c) => c.subarray(0, this.length))];
  }
}

/**
 * What a line chart draws of the samples, one column per pixel: each series' lowest and
 * highest value of the column (min-max decimation, as M4 without first and last: at one
 * pixel per column the strokes are the same). Peaks are kept, and a redraw costs the
 * same whatever the rate: two points per pixel. Columns fall on fixed instants, so
 * scrolling does not make the line shimmer.
 */
function decimate(x: Float64Array, ys: Float64Array[], bucketMs: number, out: Decimated): Decimated {
  out.reserve(2 * (Math.ceil(x.length > 0 ? (x[x.length - 1] - x[0]) / bucketMs : 0) + 2), ys.length);
  let length = 0;
  let from = 0;
  while (from < x.length) {
    // Samples from..to-1 share a column.
    const bucket = Math.floor(x[from] / bucketMs);
    let to = from + 1;
    while (to < x.length && Math.floor(x[to] / bucketMs) === bucket) to++;
    const t0 = x[from];
    const t1 = x[to - 1];
    if (to - from === 1) {
      out.x[length] = t0;
      for (let s = 0; s < ys.length; s++) out.y[s][length] = ys[s][from];
      length += 1;
    } else {
      out.x[length] = t0;
      out.x[length + 1] = t1;
      for (let s = 0; s < ys.length; s++) {
        const y = ys[s];
        let low = y[from];
        let high = low;
        for (let i = from + 1; i < to; i++) {
          const v = y[i];
          if (v < low) low = v;
          else if (v > high) high = v;
        }
        out.y[s][length] = low;
        out.y[s][length + 1] = high;
      }
      length += 2;
    }
    from = to;
  }
  out.length = length;
  return out;
}

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

let hello: Hello | undefined;
let data: Window | undefined;
let joules: number[] = [];
let main: UPlot | undefined;
let compare: UPlot | undefined;
let simpleY = new Float64Array(2 * CAPACITY);
const mainDrawn = new Decimated();
const compareDrawn = new Decimated();
let dirty = false;
let lastDrawMs = -Infinity;
let lastTextMs = -Infinity;
// The comparison's y range, set from its data: simple's NaN before its first scrape would leave uPlot none.
let compareTop = 1;
let connections = 0;
// Each draw: when (Date.now()) and the newest sample time it drew; the tests read these.
const draws = { atMs: new Float64Array(4096), dataMs: new Float64Array(4096), count: 0, costMs: 0 };

function setup(h: Hello): void {
  hello = h;
  data = new Window(h.domains.length);
  joules = h.domains.map(() => 0);
  $('source').textContent = `${h.source}, ${h.rateHz} Hz`;
  $('estimate').hidden = !h.estimate;
  $('estimate').textContent = h.estimate ?? '';
  $('warnings').textContent = h.warnings.join('\n');
  $('paths').textContent = Object.entries(h.paths).map(([what, path]) => `${what} ${path}`).join(' · ');
  $('cards').replaceChildren(
    ...h.domains.map((d, i) => {
      const card = document.createElement('div');
      card.className = 'card';
      card.style.borderColor = COLORS[i % COLORS.length];
      card.innerHTML = `<div class="name"></div><div class="watts"><span data-watts></span> W</div><div class="joules"><span data-joules></span> J since start</div>`;
      card.querySelector('.name')!.textContent = `${d.name} (${d.source})`;
      card.dataset.domain = d.name;
      return card;
    }),
  );
  const select = $<HTMLSelectElement>('domain');
  select.replaceChildren(...h.domains.map((d, i) => new Option(d.name, String(i))));
  charts(h);
}

function charts(h: Hello): void {
  main?.destroy();
  compare?.destroy();
  const width = Math.max(400, $('main').clientWidth);
  const axes: uPlot.Axis[] = [
    { stroke: '#9ca3af', grid: { stroke: '#1f2937' }, ticks: { stroke: '#374151' } },
    { stroke: '#9ca3af', grid: { stroke: '#1f2937' }, ticks: { stroke: '#374151' }, label: 'W', size: 60 },
  ];
  const common = (height: number): Omit<uPlot.Options, 'series'> => ({
    width,
    height,
    ms: 1,
    legend: { live: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true, range: () => xRange() } },
    axes,
  });
  main = new uPlot(
    { ...common(300), series: [{}, ...h.domains.map((d, i) => ({ label: d.name, stroke: COLORS[i % COLORS.length], width: 1, points: { show: false } }))] },
    [[], ...h.domains.map(() => [])],
    $('main'),
  );
  const base = common(220);
  compare = new uPlot(
    {
      ...base,
      scales: { ...base.scales, y: { range: () => [0, compareTop] } },
      series: [
        {},
        { label: 'multirate, remote write: every ms', stroke: 'rgba(56, 189, 248, 0.6)', width: 1, points: { show: false } },
        { label: 'simple: one value per scrape', stroke: '#f59e0b', width: 2.5, points: { show: false } },
      ],
    },
    [[], [], []],
    $('compare'),
  );
}

function xRange(): [number, number] {
  const last = data?.last ?? Date.now();
  return [last - (hello?.windowMs ?? 60_000), last];
}

function onSamples(s: Samples): void {
  if (!data || !hello) return;
  for (let i = 0; i < s.t.length; i++) data.push(s.t[i], s.w, i);
  data.trim(data.last - hello.windowMs);
  joules = s.j;
  if (dirty) return;
  dirty = true;
  // At most DRAW_EVERY_MS apart, in an animation frame.
  setTimeout(() => requestAnimationFrame(draw), Math.max(0, lastDrawMs + DRAW_EVERY_MS - performance.now()));
}

/** Mean watts of a domain over the samples of the last windowMs up to index `to` (exclusive end). */
function meanWatts(x: Float64Array, y: Float64Array, to: number, windowMs: number): number {
  let energy = 0;
  let i = to - 1;
  for (; i > 0 && x[to - 1] - x[i - 1] <= windowMs; i--) energy += y[i] * (x[i] - x[i - 1]);
  const span = x[to - 1] - x[i];
  return span > 0 ? energy / span : NaN;
}

/**
 * What the simple exporter would have stored of one domain: at each scrape (every
 * intervalMs on the wall clock), the mean power over the second before it, held until the
 * next scrape, as a dashboard draws it. NaN before the first scrape in the window.
 */
function simpleSeries(x: Float64Array, y: Float64Array, intervalMs: number, out: Float64Array): Float64Array {
  let value = NaN;
  let scrape = x.length > 0 ? (Math.floor(x[0] / intervalMs) + 1) * intervalMs : 0;
  for (let i = 0; i < x.length; i++) {
    if (x[i] > scrape) {
      value = meanWatts(x, y, i, 1000); // the samples up to the scrape
      scrape = (Math.floor(x[i] / intervalMs) + 1) * intervalMs;
    }
    out[i] = value;
  }
  return out.subarray(0, x.length);
}

function draw(): void {
  dirty = false;
  const began = (lastDrawMs = performance.now());
  if (!data || !hello || !main || !compare) return;
  const x = data.view(data.x);
  const ys = data.y.map((column) => data!.view(column));
  const bucketMs = hello.windowMs / Math.max(1, Math.round(main.bbox.width / devicePixelRatio));
  main.setData(decimate(x, ys, bucketMs, mainDrawn).data);
  const d = Number($<HTMLSelectElement>('domain').value || 0);
  const interval = Number($<HTMLSelectElement>('interval').value) * 1000;
  if (simpleY.length < x.length) simpleY = new Float64Array(2 * CAPACITY);
  const simple = simpleSeries(x, ys[d], interval, simpleY);
  let peakFull = -Infinity;
  let peakSimple = -Infinity;
  for (let i = 0; i < x.length; i++) {
    if (ys[d][i] > peakFull) peakFull = ys[d][i];
    if (simple[i] > peakSimple) peakSimple = simple[i];
  }
  compareTop = Math.max(peakFull, peakSimple, 1) * 1.05;
  compare.setData(decimate(x, [ys[d], simple], bucketMs, compareDrawn).data);
  const k = draws.count++ % draws.atMs.length;
  draws.atMs[k] = Date.now();
  draws.dataMs[k] = data.last;
  // The figures change little from one redraw to the next: rewritten four times a second,
  // they cost the browser a layout a quarter as often.
  if (began - lastTextMs >= TEXT_EVERY_MS) {
    lastTextMs = began;
    texts(x, ys, interval, peakFull, peakSimple);
  }
  draws.costMs += performance.now() - began;
}

function texts(x: Float64Array, ys: Float64Array[], interval: number, peakFull: number, peakSimple: number): void {
  $('peaks').textContent =
    `peak in the last minute: ${fmt(peakFull, 1)} W at full resolution, ${Number.isFinite(peakSimple) ? `${fmt(peakSimple, 1)} W` : 'nothing yet'} in what simple stores (${x.length} samples against ${countScrapes(x, interval)})`;
  const cards = $('cards').children;
  ys.forEach((y, i) => {
    cards[i].querySelector('[data-watts]')!.textContent = fmt(meanWatts(x, y, x.length, 1000), 2);
    cards[i].querySelector('[data-joules]')!.textContent = fmt(joules[i], 1);
  });
  $('points').textContent = `${x.length} points per domain`;
}

function countScrapes(x: Float64Array, intervalMs: number): number {
  return x.length < 2 ? 0 : Math.floor(x[x.length - 1] / intervalMs) - Math.floor(x[0] / intervalMs);
}

function fmt(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '–';
}

function onHealth(h: Health): void {
  const resolution = hello?.domains.map((d) => `${d.name} ${fmt(h.effectiveResolutionHz[d.name] ?? NaN, 0)} Hz`).join(', ');
  const rows: [string, string][] = [
    ['rate', `${fmt(h.achievedRateHz, 1)} Hz achieved of ${h.rateHz} Hz`],
    ['lateness', `p50 ${fmt(h.latenessUs.p50, 0)} µs, p99 ${fmt(h.latenessUs.p99, 0)} µs, max ${fmt(h.latenessUs.max, 0)} µs`],
    ['dropped', `${h.dropped} ticks (${h.overruns} deadlines missed)`],
    ['effective resolution', resolution ?? ''],
  ];
  if (h.remoteWrite) rows.push(['remote write', `${h.remoteWrite.sent} sent, ${h.remoteWrite.failed} rejected, ${h.remoteWrite.dropped} dropped (${h.remoteWrite.url})`]);
  $('health').replaceChildren(
    ...rows.map(([name, value]) => {
      const row = document.createElement('tr');
      row.append(Object.assign(document.createElement('th'), { textContent: name }), Object.assign(document.createElement('td'), { textContent: value }));
      return row;
    }),
  );
}

const ATTRIBUTION_OFF =
  'The sampler does not attribute power here. To see it per container or per process, start `wattmeter serve --cgroups` or `wattmeter serve --all-processes` (or `--pid N`, `--match NAME`).';

function onAttribution(a: Attribution): void {
  const panel = $('attribution');
  const note = (text: string) => Object.assign(document.createElement('p'), { className: 'muted', textContent: text });
  if (!a) return panel.replaceChildren(note(ATTRIBUTION_OFF));
  const cell = (tag: 'th' | 'td', text: string) => Object.assign(document.createElement(tag), { textContent: text });
  const row = (tag: 'th' | 'td', texts: string[], key?: string) => {
    const tr = document.createElement('tr');
    tr.append(...texts.map((text) => cell(tag, text)));
    if (key !== undefined) tr.dataset.id = key;
    return tr;
  };
  const tables = a.views.map((v) => {
    const table = document.createElement('table');
    table.dataset.kind = v.kind;
    table.dataset.endMs = String(v.endMs);
    table.append(
      row('th', [v.kind === 'process' ? 'process' : 'cgroup', v.kind === 'process' ? 'pid' : 'path', 'W (last second)', 'J since start']),
      ...v.top.map((c) => row('td', [c.name, c.id, fmt(c.watts ?? NaN, 2), fmt(c.joules, 1)], c.id)),
      row('td', ['unattributed', '', fmt(v.unattributed.watts ?? NaN, 2), fmt(v.unattributed.joules, 1)], ''),
    );
    return [note(`${v.kind === 'process' ? 'Processes' : 'Cgroups'}: ${v.domains.join(' + ')}, ${fmt(v.measuredJoules, 1)} J measured`), table];
  });
  panel.replaceChildren(...tables.flat(), note(a.views.length ? 'Attributed by CPU time: an estimate, not a measurement.' : 'Attribution starts…'));
}

function connect(): void {
  const events = new EventSource('events');
  events.addEventListener('hello', (e) => {
    connections++;
    const h = JSON.parse((e as MessageEvent).data) as Hello;
    $('status').textContent = 'live';
    $('status').className = 'live';
    if (h.id !== hello?.id) setup(h); // a restarted server starts its energy from zero
  });
  events.addEventListener('samples', (e) => onSamples(JSON.parse((e as MessageEvent).data) as Samples));
  events.addEventListener('health', (e) => onHealth(JSON.parse((e as MessageEvent).data) as Health));
  events.addEventListener('attribution', (e) => onAttribution(JSON.parse((e as MessageEvent).data) as Attribution));
  events.onerror = () => {
    $('status').textContent = 'reconnecting…';
    $('status').className = 'down';
    // The browser retries by itself after a dropped connection, but gives up on an error
    // status (a server restarting behind a proxy, say): then start over.
    if (events.readyState === EventSource.CLOSED) setTimeout(connect, 1000);
  };
}

$('domain').addEventListener('change', () => draw());
$('interval').addEventListener('change', () => draw());
addEventListener('resize', () => {
  const width = Math.max(400, $('main').clientWidth);
  main?.setSize({ width, height: main.height });
  compare?.setSize({ width, height: compare.height });
});
connect();

// For the tests and the benchmark, which drive this page in a real browser.
Object.assign(globalThis, {
  wattmeterLive: {
    get chart() {
      return main;
    },
    get connections() {
      return connections;
    },
    get serverId() {
      return hello?.id;
    },
    draws,
    /** The samples the page holds: timestamps and domain d's watts. */
    samples(d: number): { x: number[]; y: number[] } {
      return data ? { x: Array.from(data.view(data.x)), y: Array.from(data.view(data.y[d])) } : { x: [], y: [] };
    },
    /** The first sample at or after fromMs whose watts in domain d exceed `above`, or NaN. */
    firstAbove(d: number, fromMs: number, above: number): number {
      if (!data) return NaN;
      const x = data.view(data.x);
      const y = data.view(data.y[d]);
      for (let i = 0; i < x.length; i++) if (x[i] >= fromMs && y[i] > above) return x[i];
      return NaN;
    },
  },
});
