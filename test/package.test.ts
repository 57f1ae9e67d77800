// The package a user installs. `npm pack` (whose prepack builds the prebuilt addon), then
// the tarball installed into a fresh app whose PATH has node and npm but no cmake, cc, c++,
// g++ or make, once with --ignore-scripts and once with the install script: the app
// imports wattmeter and reads a fake powercap tree, and its TypeScript compiles against
// the published types with "types": []. And what a user sees when no addon fits.
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { fakePowercap, removeRoot, tempRoot } from '../fixtures/fake-rapl.js';
import { prebuiltPath } from '../lib/native.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url)); // dist/test -> repository
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const execFileAsync = promisify(execFile);

interface Manifest {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  repository?: { url: string };
}

function tempDir(t: ExecutionContext, prefix: string): string {
  const dir = tempRoot(`wattmeter-${prefix}-`);
  t.teardown(() => removeRoot(dir));
  return dir;
}

function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }) {
  return execFileAsync(command, args, { ...options, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
}

/** A bin directory with node, npm and the shell npm runs scripts with: no compiler, no make. */
function bareBin(t: ExecutionContext): string {
  const bin = tempDir(t, 'bin');
  symlinkSync(process.execPath, path.join(bin, 'node'));
  symlinkSync(realpathSync(path.join(path.dirname(process.execPath), 'npm')), path.join(bin, 'npm'));
  symlinkSync(realpathSync('/bin/sh'), path.join(bin, 'sh'));
  return bin;
}

/** A fresh app with the tarball installed by an npm that finds no toolchain. */
async function installApp(t: ExecutionContext, tarball: string, env: NodeJS.ProcessEnv, flags: string[]): Promise<string> {
  const app = tempDir(t, 'app');
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  const npm = path.join(env.PATH!, 'npm');
  await run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...flags, tarball], { cwd: app, env });
  return app;
}

test('the packed tarball installs and reads a fake tree with no compiler on the PATH', async (t) => {
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Manifest;
  t.is(manifest.scripts.prepack, 'node scripts/prebuild.js');
  t.is(manifest.scripts.install, 'node scripts/install.js');
  for (const tool of ['cmake-js', 'node-api-headers']) t.false(tool in manifest.dependencies, `${tool} is a runtime dependency`);
  t.truthy(manifest.repository?.url);

  // What prepack runs, then the pack itself: npm pack would also run prepare (tsc), which
  // would rewrite dist/ under the other test files running now.
  await run(process.execPath, ['scripts/prebuild.js'], { cwd: ROOT });
  const packDir = tempDir(t, 'pack');
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', packDir], { cwd: ROOT });
  const [packed] = JSON.parse(stdout) as [{ filename: string; files: { path: string }[] }];
  const files = packed.files.map((f) => f.path);
  const prebuilt = path.relative(ROOT, prebuiltPath(ROOT));
  t.true(files.includes(prebuilt), `${prebuilt} is in the tarball`);
  for (const file of ['dist/lib/index.js', 'dist/lib/index.d.ts', 'scripts/install.js', 'binding.gyp', 'native/addon.cc']) {
    t.true(files.includes(file), `${file} is in the tarball`);
  }
  t.deepEqual(files.filter((f) => f.endsWith('.map')), [], 'no source maps without their sources');
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const relativeLinks = [...readme.matchAll(/\]\((?!https?:|#)([^)\s]+)\)/g)].map(([, link]) => link);
  t.deepEqual(relativeLinks.filter((link) => !files.includes(link)), [], 'what the README links is in the tarball');

  const bin = bareBin(t);
  const env = { PATH: bin, HOME: process.env.HOME ?? homedir() };
  const tarball = path.join(packDir, packed.filename);
  const apps = await Promise.all([installApp(t, tarball, env, ['--ignore-scripts']), installApp(t, tarball, env, [])]);

  const root = tempDir(t, 'tree');
  fakePowercap(root, [{ zone: 'intel-rapl:0', name: 'package-0', watts: 0, startUj: 123_456 }]);
  const script = `import { readOnce } from 'wattmeter'; console.log(JSON.stringify(readOnce({ sysfsRoot: ${JSON.stringify(root)} })));`;
  for (const app of apps) {
    // No build/: the install script compiled nothing, so the prebuilt is what loads.
    t.false(existsSync(path.join(app, 'node_modules', 'wattmeter', 'build')), `${app}: nothing compiled`);
    const { stdout: out } = await run(path.join(bin, 'node'), ['--input-type=module', '-e', script], { cwd: app, env });
    const reading = JSON.parse(out) as { source: string; domains: { name: string; energyUj: number }[] };
    t.is(reading.source, 'powercap');
    t.deepEqual(
      reading.domains.map((d) => [d.name, d.energyUj]),
      [['package-0', 123_456]],
    );
  }

  // The published types compile for a consumer without Node's types in its own config.
  const [app] = apps;
  writeFileSync(
    path.join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { module: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, types: [], skipLibCheck: false },
      files: ['index.ts'],
    }),
  );
  writeFileSync(
    path.join(app, 'index.ts'),
    "import { openSampler, powerWatts, readOnce, type Batch } from 'wattmeter';\n" +
      'using sampler = openSampler({ rateHz: 10 });\n' +
      'const batch: Batch = sampler.drain();\n' +
      'console.log(powerWatts(batch, 0), readOnce().domains.length);\n',
  );
  await t.notThrowsAsync(run(process.execPath, [TSC, '-p', app], { cwd: app, env }));
});

/** The CLI as a user's app runs it, with the package's files from this checkout at `root`. */
async function cli(root: string, extraEnv: NodeJS.ProcessEnv) {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, ...extraEnv };
  try {
    const { stdout, stderr } = await run(process.execPath, [path.join(root, 'dist', 'lib', 'cli.js'), 'read'], { cwd: root, env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}

function assertOneLine(t: ExecutionContext, stderr: string, ...parts: string[]): void {
  t.is(stderr.trimEnd().split('\n').length, 1, stderr);
  t.false(stderr.includes('    at '), 'no stack trace');
  for (const part of parts) t.true(stderr.includes(part), `names ${part}: ${stderr}`);
}

test('with no addon built and no prebuilt, the CLI names where it looked and the command that fixes it', async (t) => {
  // The installed package without build/ and prebuilds/: a platform no prebuilt fits.
  const root = tempDir(t, 'unbuilt');
  cpSync(path.join(ROOT, 'package.json'), path.join(root, 'package.json'));
  cpSync(path.join(ROOT, 'dist', 'lib'), path.join(root, 'dist', 'lib'), { recursive: true });
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(root, 'node_modules'));
  const result = await cli(root, {});
  t.is(result.code, 1);
  assertOneLine(
    t,
    result.stderr,
    'wattmeter: the native addon is not built',
    path.join(root, 'build', 'Release', 'wattmeter.node'),
    prebuiltPath(root),
    '`npm rebuild wattmeter`',
    'python3, make and a C++17 compiler',
  );
});

test('WATTMETER_ADDON naming a missing file or something that is not an addon is a one-line error', async (t) => {
  const dir = tempDir(t, 'override');
  const missing = path.join(dir, 'missing.node');
  const result = await cli(ROOT, { WATTMETER_ADDON: missing });
  t.is(result.code, 1);
  assertOneLine(t, result.stderr, 'WATTMETER_ADDON', missing);

  const notAddon = path.join(dir, 'text.node');
  writeFileSync(notAddon, 'not an ELF file\n');
  const bad = await cli(ROOT, { WATTMETER_ADDON: notAddon });
  t.is(bad.code, 1);
  assertOneLine(t, bad.stderr, notAddon, 'does not load', '`npm rebuild wattmeter`');
});
