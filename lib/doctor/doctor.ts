// `wattmeter doctor`: can this machine be measured, and if not, what to do. Each real
// source is opened as the sampler opens it; the working ones are then sampled together
// to see how often their counters change and whether they agree.
import { resolveSourceOptions, type SourceOptions } from '../options.js';
import { VERSION } from '../version.js';
import { agreementFinding, agreements, intervalFinding, updateIntervals, watch, type Agreement, type UpdateInterval } from './counters.js';
import type { Finding } from './finding.js';
import { machineFacts, type MachineFacts } from './machine.js';
import { checkSource, REAL_SOURCES, type RealSource, type SourceCheck } from './sources.js';

export type { Finding } from './finding.js';

/** What `wattmeter doctor --json` prints; docs/doctor.md describes every field. */
export interface DoctorReport {
  wattmeterVersion: string;
  /** At least one real source works (the model does not count). */
  ok: boolean;
  workingSources: RealSource[];
  machine: MachineFacts;
  sources: Omit<SourceCheck, 'finding'>[];
  /** Every verdict in order: sources, the machine, update intervals, agreement. */
  findings: Finding[];
  /** How long and how fast the working sources were sampled. */
  watch: { seconds: number; rateHz: number } | null;
  updateIntervals: UpdateInterval[];
  agreement: Agreement[];
}

export interface DoctorOptions extends SourceOptions {
  /** Seconds the working sources are sampled for. */
  seconds: number;
  rateHz: number;
}

export const DEFAULT_DOCTOR_SECONDS = 3;
/** Every tick is kept for the verdict: a minute at 4 kHz is a few MB per source. */
export const MAX_DOCTOR_SECONDS = 60;
/** Four ticks per millisecond: RAPL's 1 ms updates show to a quarter of a millisecond. */
export const DEFAULT_DOCTOR_RATE_HZ = 4000;

/** The verdict on the machine as a whole, when no real source works. */
function machineFinding(facts: MachineFacts): Finding {
  const fix = ['or use the model, an estimate from CPU use labelled source "model": `wattmeter sample --source model`'];
  if (facts.virtualMachine) {
    return {
      check: 'machine',
      status: 'fail',
      summary: 'a virtual machine without RAPL: no energy counter can be read here',
      why: 'the CPU reports the `hypervisor` flag, and virtual machines rarely expose RAPL to their guests',
      fix: ['measure on the host: run wattmeter there (e.g. `wattmeter export simple`) and scrape it', ...fix],
    };
  }
  return { check: 'machine', status: 'fail', summary: 'no real energy source works here', why: 'see each source above', fix: ['apply a fix above', ...fix] };
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const { seconds, rateHz, ...source } = options;
  const resolved = resolveSourceOptions(source); // a wrong root is a usage error, before any check
  const facts = machineFacts(resolved);
  const checks = REAL_SOURCES.map((s) => checkSource(s, resolved, facts));
  const working = checks.filter((c) => c.domains.length > 0).map((c) => c.source);
  const findings = checks.map((c) => c.finding);
  if (working.filter((s) => s !== 'nvml').length === 0) findings.push(machineFinding(facts));
  const watched = working.length > 0 ? await watch(working, resolved, rateHz, seconds) : [];
  const intervals = updateIntervals(watched);
  const agreement = agreements(watched);
  findings.push(...intervals.map((u) => intervalFinding(u, rateHz)), ...agreement.map(agreementFinding));
  return {
    wattmeterVersion: VERSION,
    ok: working.length > 0,
    workingSources: working,
    machine: facts,
    sources: checks.map(({ finding: _, ...check }) => check),
    findings,
    watch: working.length > 0 ? { seconds, rateHz } : null,
    updateIntervals: intervals,
    agreement,
  };
}
