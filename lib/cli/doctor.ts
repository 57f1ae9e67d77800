// `wattmeter doctor [--json] [--duration S]`: checks every source on this machine and
// prints what works, why the rest does not and the exact fix. Exits 0 when at least one
// real source works (the model does not count), 1 otherwise.
import { WattmeterError } from '../errors.js';
import { parseNumber } from '../options.js';
import { samplerOptions, type Command, type Flags } from './command.js';
import { DEFAULT_DOCTOR_RATE_HZ, DEFAULT_DOCTOR_SECONDS, MAX_DOCTOR_SECONDS, runDoctor, type DoctorReport, type Finding } from '../doctor/doctor.js';

const USAGE = `Usage: wattmeter doctor [--json] [--duration S] [--rate HZ] [options]

Checks each energy source on this machine (powercap, perf_event, msr, NVML): present,
readable, and if not why (kernel version and the Linux 5.10 root-only change,
perf_event_paranoid, the msr module, capabilities, a virtual machine), with the exact
fix. Then samples the working sources together for a few seconds: how often each
counter changes, and whether two sources agree on the same domain (a power-of-two
ratio is a wrong energy unit).

  --json          the report as JSON, for bug reports (fields in docs/doctor.md)
  --duration S    seconds to sample the working sources (default ${DEFAULT_DOCTOR_SECONDS}, at most ${MAX_DOCTOR_SECONDS})
  --rate HZ       how fast to sample them (default ${DEFAULT_DOCTOR_RATE_HZ}; also WATTMETER_RATE_HZ)

Exits 0 when at least one real source works (the model does not count), 1 otherwise.
`;

function machineLine({ machine: m, wattmeterVersion }: DoctorReport): string {
  const parts = [
    m.kernel === null ? 'kernel unknown' : `Linux ${m.kernel}${m.rootOnlyEnergy ? ' (energy_uj root-only since 5.10)' : ''}`,
    [m.cpuVendor ?? 'CPU unknown', m.cpuFamily === null ? '' : `family ${m.cpuFamily}`, m.cpuModel === null ? '' : `model ${m.cpuModel}`].filter(Boolean).join(' '),
    m.virtualMachine ? 'virtual machine' : 'no hypervisor flag',
    `uid ${m.uid ?? '?'}`,
    `perf_event_paranoid ${m.perfEventParanoid ?? '?'}`,
  ];
  return `wattmeter doctor ${wattmeterVersion}: ${parts.join(', ')}`;
}

function findingLines(f: Finding): string[] {
  const head = `${f.status.toUpperCase().padEnd(5)} ${f.check.padEnd(16)} `;
  const indent = ' '.repeat(head.length);
  const lines = [head + f.summary];
  if (f.why) lines.push(`${indent}why: ${f.why}`);
  f.fix?.forEach((step, i) => lines.push(`${indent}${i === 0 ? 'fix: ' : '     '}${step}`));
  return lines;
}

export function formatReport(report: DoctorReport): string {
  const verdict = report.ok
    ? `${report.workingSources.length} real source${report.workingSources.length === 1 ? '' : 's'} work${report.workingSources.length === 1 ? 's' : ''}: ${report.workingSources.join(', ')}.`
    : 'No real source works: wattmeter falls back to the model, an estimate from CPU use.';
  return [machineLine(report), '', ...report.findings.flatMap(findingLines), '', verdict, ''].join('\n');
}

async function run(flags: Flags): Promise<void> {
  const options = samplerOptions(flags);
  const seconds = typeof flags.duration !== 'string' ? DEFAULT_DOCTOR_SECONDS : parseNumber(flags.duration, '--duration', 0.1, MAX_DOCTOR_SECONDS);
  if (!flags.json && process.stderr.isTTY) process.stderr.write(`wattmeter doctor: checking every source, then sampling the working ones for ${seconds} s...\n`);
  // --rate is the sampler's option (read with it, checked alike), with the doctor's own default.
  const report = await runDoctor({ ...options, seconds, rateHz: options.rateHz ?? DEFAULT_DOCTOR_RATE_HZ });
  process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  if (!report.ok) throw new WattmeterError(`no real energy source works on this machine${flags.json ? '' : ' (see the fixes above)'}.`);
}

export const doctorCommand: Command = {
  summary: 'doctor [--json] [--duration S]   why a source does not read here, and the exact fix',
  usage: USAGE,
  flags: { json: { type: 'boolean' }, duration: { type: 'string' }, rate: { type: 'string' } },
  // Where to look: every source is checked, so --source, --gpu and the model's are not taken.
  samplerOptions: ['sysfsRoot', 'procRoot', 'msrPath', 'cpuVendor', 'includeMmio', 'nvmlLibrary'],
  run,
};
