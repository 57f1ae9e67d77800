// The handlers' output formats, from a hand-made report.
import test from 'ava';
import { Registry } from 'prom-client';
import { csvHandler, formatReport, jsonLinesHandler, printHandler, promClientHandler, type EnergyReport } from '../lib/index.js';

function report(tag: string, joules = 2, resolved = true): EnergyReport {
  return {
    tag,
    source: 'powercap',
    startMs: 1_764_000_000_000.25,
    endMs: 1_764_000_000_100.25,
    durationMs: 100,
    domains: {
      'package-0': { joules, watts: joules * 10, peakWatts: 25, minJoules: joules - 0.01, maxJoules: joules + 0.01, resolved, updateIntervalMs: 1 },
      'dram-0': { joules: 0.3, watts: 3, peakWatts: 3.5, minJoules: 0.29, maxJoules: 0.31, resolved: true, updateIntervalMs: 1 },
    },
    timeline: {
      stepMs: 50,
      timestampsMs: Float64Array.of(1_764_000_000_000.25, 1_764_000_000_050.25),
      watts: { 'package-0': Float64Array.of(15, 25), 'dram-0': Float64Array.of(2.5, 3.5) },
    },
    warnings: resolved ? [] : ['too short'],
  };
}

function sink() {
  const chunks: string[] = [];
  return { write: (text: string) => chunks.push(text), text: () => chunks.join('') };
}

test('print: one line per domain, flags and warnings', (t) => {
  const out = sink();
  printHandler(out)(report('parse', 2, false));
  t.is(out.text(), formatReport(report('parse', 2, false)));
  const lines = out.text().trimEnd().split('\n');
  t.is(lines[0], 'parse: 100.000 ms (powercap)');
  t.regex(lines[1], /package-0\s+2\.000000 J\s+20\.00 W mean\s+25\.00 W peak {2}\(below the counter resolution\)/);
  t.regex(lines[2], /dram-0 +0\.300000 J +3\.00 W mean +3\.50 W peak$/);
  t.is(lines[3], '  ! too short');
});

test('CSV: a header once, then one row per segment and domain, tags quoted when needed', (t) => {
  const out = sink();
  const handle = csvHandler(out);
  handle(report('a'));
  handle(report('b, "quoted"'));
  const rows = out.text().trimEnd().split('\n');
  t.is(rows[0], 'tag,source,startMs,durationMs,domain,joules,watts,peakWatts,minJoules,maxJoules,resolved');
  t.is(rows.length, 5);
  t.is(rows[1], 'a,powercap,1764000000000.250,100.000,package-0,2,20,25,1.99,2.01,true');
  t.true(rows[3].startsWith('"b, ""quoted""",powercap,'));
});

test('JSON lines: one object per segment, the timeline only when asked', (t) => {
  const out = sink();
  jsonLinesHandler(out)(report('a'));
  jsonLinesHandler(out, { timeline: true })(report('b'));
  const [a, b] = out.text().trimEnd().split('\n').map((line) => JSON.parse(line));
  t.is(a.tag, 'a');
  t.is(a.domains['package-0'].joules, 2);
  t.is(a.timeline, undefined);
  t.deepEqual(b.timeline, { stepMs: 50, timestampsMs: [1_764_000_000_000.25, 1_764_000_000_050.25], watts: { 'package-0': [15, 25], 'dram-0': [2.5, 3.5] } });
});

test('prom-client: counters add up per tag and domain, gauges hold the latest segment', async (t) => {
  const registry = new Registry();
  const handle = promClientHandler({ registry });
  handle(report('job', 2));
  handle(report('job', 3));
  promClientHandler({ registry })(report('other', 1)); // a second handler shares the metrics
  const text = await registry.metrics();
  t.regex(text, /wattmeter_measured_energy_joules_total\{tag="job",domain="package-0",source="powercap"\} 5\n/);
  t.regex(text, /wattmeter_measured_energy_joules_total\{tag="other",domain="package-0",source="powercap"\} 1\n/);
  t.regex(text, /wattmeter_measured_power_watts\{tag="job",domain="package-0",source="powercap"\} 30\n/);
  t.regex(text, /wattmeter_measured_peak_power_watts\{tag="job",domain="dram-0",source="powercap"\} 3\.5\n/);
  t.regex(text, /wattmeter_measured_duration_seconds_total\{tag="job"\} 0\.2\n/);
  t.regex(text, /wattmeter_measured_segments_total\{tag="job"\} 2\n/);
});
