// Sample lines of the exposition formats written as bytes, not built as strings: about
// twice as fast, and rendering is the timestamped exporters' main cost.
import type { ExpositionFormat } from './accept.js';
import { formatValue } from './metric.js';

export const TEXT_FORMAT = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_FORMAT = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
export const CONTENT_TYPE: Readonly<Record<ExpositionFormat, string>> = { text: TEXT_FORMAT, openmetrics: OPENMETRICS_FORMAT };
/** The last line of every OpenMetrics exposition. */
export const EOF = '# EOF\n';

/**
 * `prefix value timestamp\n` for each sample of one series. The timestamp is written from
 * integer milliseconds: as they are in the text format, as seconds with exactly three
 * decimals in OpenMetrics.
 */
export function renderLines(prefix: Buffer, values: Float64Array, timestampsMs: Float64Array, format: ExpositionFormat = 'text'): Buffer {
  // At most: the prefix, a value of 24 characters, a space, a 17-character timestamp, a newline.
  const out = Buffer.allocUnsafe(values.length * (prefix.length + 43));
  const seconds = format === 'openmetrics';
  let at = 0;
  for (let i = 0; i < values.length; i++) {
    at += prefix.copy(out, at);
    at = writeMicro(out, at, values[i]);
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
  }
  return Buffer.from(out.subarray(0, at)); // an exact copy: the window keeps it for a while
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
  return writeDigits(out, at, micro - whole * 1e6, 6);
}

/** Writes a non-negative integer below 2^53 in decimal, zero-padded to minDigits. */
function writeDigits(out: Buffer, at: number, n: number, minDigits: number): number {
  let digits = 1;
  for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  const end = at + Math.max(digits, minDigits);
  for (let i = end - 1; i >= at; i--) {
    const rest = Math.floor(n / 10);
    out[i] = 0x30 + n - rest * 10; // '0' + the last digit
    n = rest;
  }
  return end;
}
