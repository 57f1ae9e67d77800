// What a metric is to Prometheus, whoever produces it: a name, a type, a help text, and
// labels; and how its header, labels and values are written in the exposition formats.
// The text format 0.0.4 and OpenMetrics 1.0 differ here in two ways: an OpenMetrics
// counter family is named without `_total` (its samples with), and OpenMetrics help
// texts escape double quotes too.
import type { ExpositionFormat } from './accept.js';

export type MetricType = 'counter' | 'gauge';
export type Labels = Record<string, string>;

export interface MetricInfo {
  name: string;
  type: MetricType;
  help: string;
}

const escape = (c: string) => (c === '\n' ? '\\n' : `\\${c}`);

/** The family's name in the headers: an OpenMetrics counter's lacks `_total`. */
function familyName(info: MetricInfo, format: ExpositionFormat): string {
  return format === 'openmetrics' && info.type === 'counter' ? info.name.replace(/_total$/, '') : info.name;
}

/** The name of the family's samples: an OpenMetrics counter's end with `_total`. */
export function sampleName(info: MetricInfo, format: ExpositionFormat): string {
  return format === 'openmetrics' && info.type === 'counter' ? `${familyName(info, format)}_total` : info.name;
}

/** `# HELP` and `# TYPE` lines of a family. */
export function header(info: MetricInfo, format: ExpositionFormat = 'text'): string {
  const name = familyName(info, format);
  const help = info.help.replace(format === 'openmetrics' ? /[\\"\n]/g : /[\\\n]/g, escape);
  return `# HELP ${name} ${help}\n# TYPE ${name} ${info.type}\n`;
}

/** A family of untimestamped samples: its header, then `name{labels} value` for each. */
export function family(info: MetricInfo, samples: readonly (readonly [Labels, number])[], format: ExpositionFormat): string {
  const name = sampleName(info, format);
  return header(info, format) + samples.map(([labels, value]) => `${name}${formatLabels(labels)} ${formatValue(value)}\n`).join('');
}

/** `{a="1",b="2"}`, sorted by name, values escaped. */
export function formatLabels(labels: Labels): string {
  const pairs = Object.keys(labels)
    .sort()
    .map((name) => `${name}="${labels[name].replace(/[\\"\n]/g, escape)}"`);
  return `{${pairs.join(',')}}`;
}

/** Go's ParseFloat reads JavaScript's shortest round-trip form; only the infinities differ. */
export function formatValue(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
