// `wattmeter bench`: the sampler's achieved rate, timing and CPU cost on this machine.
import { setTimeout as sleep } from 'node:timers/promises';
import { openSampler } from '../sampler.js';
import { durationS, printTable, samplerOptions, untilStopped, warn, type Command, type Flags } from './command.js';

export const benchCommand: Command = {
  summary: `bench [--rate HZ] [--duration S] [--json]
                                   sample rate, timing jitter and CPU cost of the sampler`,
  usage: `Usage: wattmeter bench [--duration S] [--json] [options]

Runs the sampler for a while, draining it as a consumer would, and reports the rate it
achieved, how late its thread woke, its CPU cost and how often each counter changed.
Ctrl-C ends it early with the figures so far.

  --duration S                       how long, in seconds (default 10)
  --json                             the figures as JSON
`,
  flags: { duration: { type: 'string' }, json: { type: 'boolean' } },
  run: bench,
};

async function bench(flags: Flags): Promise<void> {
  const seconds = durationS(flags, 10);
  const sampler = openSampler(samplerOptions(flags));
  warn(sampler.warnings);
  // Progress for a person watching, never in what a program reads.
  const progress = !flags.json && process.stdout.isTTY && process.stderr.isTTY;
  const until = untilStopped(seconds);
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  sampler.start();
  try {
    // Drain as a consumer would, so the figures include the cost of draining.
    while (!until.signal.aborted) {
      await sleep(100, undefined, { signal: until.signal }).catch(() => {});
      sampler.drain();
      if (progress) {
        const elapsedS = Math.min(seconds, (performance.now() - wallBefore) / 1000);
        const { ticks } = sampler.stats();
        process.stderr.write(`\r\x1b[Kbench: ${elapsedS.toFixed(1)} of ${seconds} s, ${ticks} ticks (Ctrl-C ends it early)`);
      }
    }
  } finally {
    until.stop();
    if (progress) process.stderr.write('\r\x1b[K');
    sampler.stop();
  }
  const cpu = process.cpuUsage(cpuBefore);
  const wallS = (performance.now() - wallBefore) / 1000;
  const stats = sampler.stats();
  sampler.close();
  const result = {
    source: sampler.source,
    domains: sampler.domains.length,
    rateHz: stats.rateHz,
    achievedRateHz: stats.achievedRateHz,
    elapsedS: stats.elapsedS,
    ticks: stats.ticks,
    dropped: stats.dropped,
    overruns: stats.overruns,
    readErrors: stats.readErrors,
    latenessUs: stats.latenessUs,
    cpuPercent: ((cpu.user + cpu.system) / 1e6 / wallS) * 100,
    effectiveResolutionHz: stats.effectiveResolutionHz,
    realtime: stats.realtime,
    settings: stats.settings,
    notes: stats.notes,
  };
  if (flags.json) return console.log(JSON.stringify(result, null, 2));
  const resolution = Object.entries(result.effectiveResolutionHz).map(([d, hz]) => `${d} ${hz.toFixed(0)}`);
  const { p50, p99, max } = result.latenessUs;
  printTable([
    ['source', `${result.source} (${result.domains} ${result.domains === 1 ? 'domain' : 'domains'})`],
    ['rate', `${result.rateHz} Hz asked, ${result.achievedRateHz.toFixed(1)} Hz achieved`],
    ['ticks', `${result.ticks} (${result.dropped} dropped, ${result.overruns} overruns, ${result.readErrors} read errors)`],
    ['lateness', `p50 ${p50.toFixed(1)} us, p99 ${p99.toFixed(1)} us, max ${max.toFixed(1)} us`],
    ['cpu', `${result.cpuPercent.toFixed(2)} % of one core`],
    ['resolution', `${resolution.join(', ')} Hz (value changes per second)`],
    ['realtime', result.realtime ? 'SCHED_FIFO' : 'no'],
    ['settings', result.settings.join(', ') || 'none'],
  ]);
  warn(result.notes);
}
