// The machine under test: a fake powercap tree advancing at known watts (the default), or
// the host's own RAPL counters (--rapl, where the true power is unknown); and the machine
// the comparison runs on, described for the report.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, release } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeWriter, fakePowercap, fiveZones, removeRoot, tempRoot } from '../../fixtures/fake-rapl.js';
import type { BurstTruth, Machine } from '../../fixtures/compare-report.js';

/** The series every figure is read from: the package domain, present on every RAPL machine. */
export const DOMAIN = 'package-0';

export interface Target {
  /** undefined: the host's counters. */
  sysfsRoot: string | undefined;
  /** The domain's true power (null when unknown). */
  truthW: number | null;
  /** Adds extraW for about durationMs; null when the power is not ours to change. */
  burst: ((extraW: number, durationMs: number) => Promise<BurstTruth & { onMs: number; offMs: number }>) | null;
  close(): Promise<void>;
}

/** Five fake zones (the tests' machine) advanced every 1 ms by the fake writer process. */
export async function fakeTarget(): Promise<Target> {
  const root = tempRoot('wattmeter-compare-');
  const counters = fakePowercap(root, fiveZones());
  const writer = await FakeWriter.start(counters);
  const baseW = counters.find((c) => c.key === DOMAIN)!.watts;
  // The moment of a switch: halfway through the round trip to the writer (about 1 ms).
  const switchTo = async (watts: number) => {
    const sent = Date.now();
    const snapshot = await writer.setWatts(DOMAIN, watts);
    return { ms: (sent + Date.now()) / 2, energyJ: snapshot[DOMAIN]!.energyJ };
  };
  return {
    sysfsRoot: root,
    truthW: baseW,
    async burst(extraW, durationMs) {
      const on = await switchTo(baseW + extraW);
      await sleep(durationMs);
      const off = await switchTo(baseW);
      // The writer books energy at the old power before each switch, so everything it
      // delivered between the two switches was at baseW + extraW: that gives the burst's
      // true length, free of the round trips' jitter.
      const trueMs = ((off.energyJ - on.energyJ) / (baseW + extraW)) * 1000;
      return { extraW, durationMs: trueMs, injectedJ: (extraW * trueMs) / 1000, onMs: on.ms, offMs: on.ms + trueMs };
    },
    async close() {
      await writer.stop();
      removeRoot(root);
    },
  };
}

export function raplTarget(): Target {
  return { sysfsRoot: undefined, truthW: null, burst: null, close: async () => {} };
}

export function describeMachine(source: string): Machine {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const version = execFileSync('prometheus', ['--version'], { encoding: 'utf8' }).split('\n')[0]!;
  return {
    cpus: availableParallelism(),
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown',
    kernel: release(),
    node: process.version,
    prometheus: /version (\S+)/.exec(version)?.[1] ?? version,
    source,
  };
}
