// What a metric is to Prometheus, whoever produces it: a name, a type, a help text, and
// labels; and how its header, labels and values are written in the text format.

export type MetricType = 'counter' | 'gauge';
export type Labels = Record<string, string>;

export interface MetricInfo {
  name: string;
  type: MetricType;
  help: string;
}

/** `# HELP` and `# TYPE` lines of a family. */
export function header(info: MetricInfo): string {
  return `# HELP ${info.name} ${info.help}\n# TYPE ${info.name} ${info.type}\n`;
}

/** `{a="1",b="2"}`, sorted by name, values escaped. */
export function formatLabels(labels: Labels): string {
  const pairs = Object.keys(labels)
    .sort()
    .map((name) => `${name}="${labels[name].replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`);
  return `{${pairs.join(',')}}`;
}

/** Go's ParseFloat reads JavaScript's shortest round-trip form; only the infinities differ. */
export function formatValue(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
