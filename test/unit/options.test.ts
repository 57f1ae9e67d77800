// SAMPLER_OPTIONS (lib/options.ts) is the one declaration of the sampler's options: the
// README's table and `wattmeter --help` must say what it says.
import test from 'ava';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { ENV, SAMPLER_OPTIONS, optionsFromEnv, parseOptions, resolveSamplerOptions, resolveSourceOptions } from '../../lib/options.js';
import { CLI } from '../../fixtures/cli.js';

/** The rows of the first table under `## Options` in README.md, as cell texts. */
function readmeOptionRows(): string[][] {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Options\n'));
  if (!section) throw new Error('README.md has no "## Options" section');
  const rows = section.split('\n').filter((line) => line.startsWith('|'));
  return rows.slice(2).map((row) => row.split('|').slice(1, -1).map((cell) => cell.trim()));
}

test("the README's Options table lists every option as the table declares it, in order", (t) => {
  const expected = Object.entries(SAMPLER_OPTIONS).map(([key, spec]) => [
    `\`${key}\``,
    `\`${spec.env}\``,
    `\`${spec.flag}\``,
    'default' in spec ? `\`${spec.default}\`` : 'defaultDoc' in spec ? spec.defaultDoc : '',
    spec.doc,
  ]);
  t.deepEqual(readmeOptionRows(), expected);
});

test('wattmeter --help lists every option with its flag and variable', async (t) => {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, '--help']);
  for (const spec of Object.values(SAMPLER_OPTIONS)) {
    t.regex(stdout, new RegExp(`^  ${spec.flag}\\b.*\\n?\\s*${spec.env}\\b`, 'm'), spec.flag);
  }
});

test('ENV names the variable of every option', (t) => {
  t.deepEqual(Object.keys(ENV), Object.keys(SAMPLER_OPTIONS));
  t.is(ENV.rateHz, 'WATTMETER_RATE_HZ');
  t.is(ENV.sysfsRoot, 'WATTMETER_SYSFS_ROOT');
});

test('each kind of option parses as before', (t) => {
  t.deepEqual(
    parseOptions({ source: 'msr', includeMmio: 'yes', rateHz: '250', nvmlLibrary: '', user: '', sysfsRoot: '' }),
    { source: 'msr', includeMmio: true, rateHz: 250, sysfsRoot: '' },
  );
  t.throws(() => parseOptions({ gpu: 'maybe' }), { message: 'WATTMETER_GPU must be true or false; got "maybe".' });
  t.throws(() => parseOptions({ cpuVendor: 'arm' }, { cpuVendor: '--cpu-vendor' }), {
    message: '--cpu-vendor must be one of auto, intel, amd; got "arm".',
  });
});

test('defaults fill every field the addon reads', (t) => {
  const resolved = resolveSamplerOptions({});
  t.deepEqual(resolved, {
    source: 'auto',
    sysfsRoot: '/sys',
    procRoot: '/proc',
    msrPath: '/dev/cpu/%d/msr',
    cpuVendor: 'auto',
    includeMmio: false,
    modelIdleWatts: 10,
    modelMaxWatts: 65,
    gpu: false,
    nvmlLibrary: 'libnvidia-ml.so.1',
    rateHz: 1000,
    capacity: 10_000,
    realtime: false,
  });
  t.is(resolveSamplerOptions({ rateHz: 10 }).capacity, 1024);
});

test('a check made when opening names the option as the caller set it', (t) => {
  t.throws(() => resolveSourceOptions({ sysfsRoot: '/no/such/root' }), { message: /\/no\/such\/root does not exist \(sysfsRoot\)/ });
  t.throws(() => resolveSourceOptions(optionsFromEnv({ WATTMETER_SYSFS_ROOT: '/no/such/root' })), {
    message: /\/no\/such\/root does not exist \(WATTMETER_SYSFS_ROOT\)/,
  });
  t.throws(() => resolveSourceOptions({ msrPath: '/dev/msr' }), { message: /^msrPath must contain %d once/ });
  t.throws(() => resolveSourceOptions({ modelIdleWatts: 50, modelMaxWatts: 20 }), {
    message: /^modelMaxWatts \(20\) must not be below modelIdleWatts \(50\)/,
  });
});

test('numbers are decimal only, and the ring is at least a second of ticks and at most 1e8', (t) => {
  for (const text of ['0x50', '0b1', ' 5 ', '5 ', '', '1_000', 'Infinity']) {
    t.throws(() => parseOptions({ rateHz: text }), { message: /WATTMETER_RATE_HZ must be a number/ }, JSON.stringify(text));
  }
  t.deepEqual(parseOptions({ rateHz: '1e3', modelIdleWatts: '2.5', modelMaxWatts: '+.5e2' }), { rateHz: 1000, modelIdleWatts: 2.5, modelMaxWatts: 50 });
  t.throws(() => resolveSamplerOptions({ bufferCapacity: 5 }), { message: /bufferCapacity must be between 1024 \(a second of ticks at 1000 Hz, or 1024\) and 100000000 ticks; got 5/ });
  t.throws(() => resolveSamplerOptions({ rateHz: 5000, bufferCapacity: 2000 }), { message: /between 5000/ });
  t.throws(() => parseOptions({ bufferCapacity: '1e9' }), { message: /WATTMETER_BUFFER_CAPACITY must be between 1024 and 100000000/ });
  t.is(resolveSamplerOptions({ rateHz: 5000 }).capacity, 50_000);
});
