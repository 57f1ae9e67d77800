// Builds test/helpers/fake-nvml.c into a shared library for one test (cc, at run time).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// This file runs from dist/test/helpers; the C source stays in test/helpers.
const SOURCE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/helpers/fake-nvml.c');

export interface FakeNvmlSpec {
  /** Power of each GPU; a negative one reports no energy (a pre-Volta GPU). */
  watts: number[];
  /** nvmlInit_v2 fails with this NVML code (9: driver not loaded). */
  initError?: number;
}

/** Compiles a fake libnvidia-ml.so.1 into `dir`; returns its path. */
export function buildFakeNvml(dir: string, { watts, initError = 0 }: FakeNvmlSpec): string {
  const library = path.join(dir, 'libnvidia-ml.so.1');
  const defines = [`-DFAKE_WATTS={${watts.map((w) => w.toFixed(3)).join(',')}}`, `-DFAKE_INIT_ERROR=${initError}`];
  execFileSync('cc', ['-shared', '-fPIC', '-O2', '-Wall', ...defines, '-o', library, SOURCE]);
  return library;
}
