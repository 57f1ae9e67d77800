// Sample lines of the exposition formats written as bytes, not built as strings: about
// twice as fast, and rendering is the timestamped exporters' main cost.
import type { ExpositionFormat } from './accept.js';
import { formatValue } from './metric.js';

export const TEXT_FORMAT = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_FORMAT = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
export const CONTENT_TYPE: Readonly<Record<ExpositionFormat, string>> = { text: TEXT_FORMAT, openmetrics: OPENMETRICS_FORMAT };
/** The last line of every OpenMetrics exposition. */
export const EOF = '# EOF\n';

/** One series' lines: what starts each (`name{labels} `) and its values. */
export interface SeriesLines {
  prefix: Buffer;
  values: Float64Array;
}

// Reused by every rendering, which copies its result out: rendering a chunk then costs one
// allocation, not one or more per series.
let arena = Buffer.allocUnsafeSlow(1 << 16);
let stampEnds = new Uint32Array(1 << 10);

/**
 * `prefix value timestamp\n` for each sample of each series, the series sharing one
 * column of timestamps; one buffer per series (views of one allocation). The timestamp is
 * written from integer milliseconds: as they are in the text format, as seconds with
 * exactly three decimals in OpenMetrics; its text is made once for all the series.
 */
export function renderLines(series: readonly SeriesLines[], timestampsMs: Float64Array, format: ExpositionFormat = 'text'): Buffer[] {
  const n = timestampsMs.length;
  const prefixBytes = series.reduce((sum, s) => sum + s.prefix.length, 0);
  // At most: per timestamp a space, 17 characters and a newline; per line a prefix, a
  // value of 24 characters and the timestamp's 19.
  const size = n * 19 + n * (prefixBytes + 43 * series.length);
  if (arena.length < size) arena = Buffer.allocUnsafeSlow(size);
  if (stampEnds.length < n + 1) stampEnds = new Uint32Array(n + 1);
  const out = arena;
  const seconds = format === 'openmetrics';
  let at = 0;
  for (let i = 0; i < n; i++) {
    out[at++] = 0x20; // ' '
    const ms = timestampsMs[i];
    if (seconds) {
      const s = Math.floor(ms / 1000);
      at = writeDigits(out, at, s, 1);
      out[at++] = 0x2e; // '.'
      at = writeDigits(out, at, ms - s * 1000, 3);
    } else {
      at = writeDigits(out, at, ms, 1);
    }
    out[at++] = 0x0a; // '\n'
    stampEnds[i + 1] = at;
  }
  const linesFrom = at;
  const ends: number[] = [];
  for (const { prefix, values } of series) {
    for (let i = 0; i < n; i++) {
      out.set(prefix, at); // not prefix.copy(), which makes a view of the source each call
      at = writeMicro(out, at + prefix.length, values[i]);
      for (let k = stampEnds[i]; k < stampEnds[i + 1]; k++) out[at++] = out[k];
    }
    ends.push(at - linesFrom);
  }
  // An exact copy: a window keeps it for a while.
  const lines = Buffer.from(out.subarray(linesFrom, at));
  return ends.map((end, s) => lines.subarray(s === 0 ? 0 : ends[s - 1], end));
}

/**
 * Energy and power with 6 decimals: 1 uJ and 1 uW are finer than any RAPL counter (15.3 uJ
 * at best), and integers are quick to write.
 */
function writeMicro(out: Buffer, at: number, value: number): number {
  const micro = Math.round(Math.abs(value) * 1e6);
  if (!Number.isSafeInteger(micro)) return at + out.write(formatValue(value), at, 'latin1');
  if (value < 0) out[at++] = 0x2d; // '-'
  const whole = Math.floor(micro / 1e6);
  at = writeDigits(out, at, whole, 1);
  out[at++] = 0x2e; // '.'
  return writeFixed(out, at, micro - whole * 1e6, 6);
}

/** '00' to '99': the two digits of each number below 100. */
const PAIRS = Uint8Array.from({ length: 200 }, (_, i) => 0x30 + (i % 2 === 0 ? Math.floor(i / 20) : (i >> 1) % 10));

/** Writes a non-negative integer below 2^53 in decimal, zero-padded to minDigits. */
function writeDigits(out: Buffer, at: number, n: number, minDigits: number): number {
  let digits = 1;
  for (let power = 10; power <= n; power *= 10) digits++;
  return writeFixed(out, at, n, Math.max(digits, minDigits));
}

/** Writes n (a non-negative integer below 10^digits) in exactly `digits` digits, two at a time. */
function writeFixed(out: Buffer, at: number, n: number, digits: number): number {
  const end = at + digits;
  let i = end;
  for (; digits >= 2; digits -= 2) {
    const rest = Math.floor(n / 100);
    const pair = 2 * (n - rest * 100);
    out[--i] = PAIRS[pair + 1];
    out[--i] = PAIRS[pair];
    n = rest;
  }
  if (digits === 1) out[--i] = 0x30 + n;
  return end;
}
