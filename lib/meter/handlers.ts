// Ready-made handlers: where each report goes once its segment is settled.
import type { EnergyHandler, EnergyReport } from './report.js';

/** Anything with a write(text) method: process.stdout, a file stream, a test's buffer. */
export interface TextSink {
  write(text: string): unknown;
}

/** A few lines per segment, for people. */
export function printHandler(out: TextSink = process.stdout): EnergyHandler {
  return (report) => out.write(formatReport(report));
}

export function formatReport(report: EnergyReport): string {
  const names = Object.keys(report.domains);
  const width = Math.max(...names.map((n) => n.length));
  const lines = [`${report.tag}: ${report.durationMs.toFixed(3)} ms (${report.source})`];
  for (const name of names) {
    const d = report.domains[name];
    const mark = d.resolved ? '' : '  (below the counter resolution)';
    lines.push(
      `  ${name.padEnd(width)}  ${d.joules.toFixed(6).padStart(12)} J  ${d.watts.toFixed(2).padStart(8)} W mean  ` +
        `${d.peakWatts.toFixed(2).padStart(8)} W peak${mark}`,
    );
  }
  for (const warning of report.warnings) lines.push(`  ! ${warning}`);
  return lines.join('\n') + '\n';
}

const CSV_COLUMNS = ['tag', 'source', 'startMs', 'durationMs', 'domain', 'joules', 'watts', 'peakWatts', 'minJoules', 'maxJoules', 'resolved'];

/** One row per segment and domain (long format, so domains may differ between meters); header first. */
export function csvHandler(out: TextSink): EnergyHandler {
  let header = false;
  return (report) => {
    const rows = header ? [] : [CSV_COLUMNS.join(',')];
    header = true;
    for (const [name, d] of Object.entries(report.domains)) {
      const cells = [csvCell(report.tag), report.source, report.startMs.toFixed(3), report.durationMs.toFixed(3), name];
      rows.push([...cells, d.joules, d.watts, d.peakWatts, d.minJoules, d.maxJoules, d.resolved].join(','));
    }
    out.write(rows.join('\n') + '\n');
  };
}

function csvCell(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export interface JsonLinesOptions {
  /** Also write the power timeline (arrays of up to timelinePoints numbers per domain). */
  timeline?: boolean;
}

/** One JSON object per segment and line. */
export function jsonLinesHandler(out: TextSink, { timeline = false }: JsonLinesOptions = {}): EnergyHandler {
  return (report) => out.write(JSON.stringify(reportToJson(report, timeline)) + '\n');
}

/** The report as plain JSON data (typed arrays become arrays). */
export function reportToJson(report: EnergyReport, timeline = true) {
  const { tag, source, startMs, endMs, durationMs, domains, warnings } = report;
  return {
    tag,
    source,
    startMs,
    endMs,
    durationMs,
    domains,
    warnings,
    ...(timeline && {
      timeline: {
        stepMs: report.timeline.stepMs,
        timestampsMs: Array.from(report.timeline.timestampsMs),
        watts: Object.fromEntries(Object.entries(report.timeline.watts).map(([name, w]) => [name, Array.from(w)])),
      },
    }),
  };
}
