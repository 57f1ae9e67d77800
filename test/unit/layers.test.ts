// The folder layout is the architecture: data flows one way, native sampler -> ring ->
// the sampler's fan-out (lib/*.ts) -> its consumers (exporters/, meter/, the CLI), with
// the Prometheus layer (prometheus/) shared below the consumers; doctor/ sits on the core
// beside them. This test reads every import and fails on one that runs back up, and keeps
// test/ and bench/ apart.
import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url)); // dist/test/unit -> repository

/** Every .ts file below dir, relative to the repository. */
function sources(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => path.join(dir, f));
}

/** The repository-relative files a source imports (relative imports only). */
function imports(file: string): string[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  return [...text.matchAll(/^(?:import|export)\b[^'"]*?from\s+'(\.[^']+)'/gm)].map(([, spec]) =>
    path.join(path.dirname(file), spec).replace(/\.js$/, '.ts'),
  );
}

/** The layer a file belongs to. */
function layer(file: string): string {
  const [top, second] = file.split(path.sep);
  if (top !== 'lib') return top;
  if (second === 'cli.ts' || second === 'cli' || second === 'index.ts') return 'lib/entry';
  // Attribution is part of the sampler: its batches carry it.
  if (second === 'attribution') return 'lib/core';
  if (second === 'serve') return 'lib/serve';
  return second.endsWith('.ts') ? 'lib/core' : `lib/${second}`;
}

// What each layer may import besides itself.
const ALLOWED: Record<string, string[]> = {
  'lib/core': [],
  'lib/prometheus': ['lib/core'],
  'lib/exporters': ['lib/core', 'lib/prometheus'],
  'lib/meter': ['lib/core', 'lib/prometheus'],
  'lib/doctor': ['lib/core'],
  // serve composes the exporters; only the CLI runs it.
  'lib/serve': ['lib/core', 'lib/prometheus', 'lib/exporters'],
  'lib/entry': ['lib/core', 'lib/prometheus', 'lib/exporters', 'lib/meter', 'lib/doctor', 'lib/serve'],
  fixtures: ['lib/core', 'lib/prometheus', 'lib/exporters', 'lib/meter', 'lib/doctor', 'lib/entry'],
  test: ['lib/core', 'lib/prometheus', 'lib/exporters', 'lib/meter', 'lib/doctor', 'lib/serve', 'lib/entry', 'fixtures'],
  bench: ['lib/core', 'lib/prometheus', 'lib/exporters', 'lib/meter', 'lib/doctor', 'lib/serve', 'lib/entry', 'fixtures'],
  examples: ['lib/entry'],
};

test('no import runs back up the layers, and test/ and bench/ only share fixtures/', (t) => {
  const wrong: string[] = [];
  const files = ['lib', 'fixtures', 'test', 'bench'].flatMap(sources);
  const edges = files.flatMap((file) => imports(file).map((target) => [file, target] as const));
  t.true(edges.length > 200, `${edges.length} imports in ${files.length} sources`);
  for (const [file, target] of edges) {
    const [from, to] = [layer(file), layer(target)];
    if (to !== from && !ALLOWED[from].includes(to)) wrong.push(`${file} imports ${target} (${from} -> ${to})`);
  }
  t.deepEqual(wrong, []);
});

test('the layer check sees a wrong import', (t) => {
  t.is(layer(path.join('lib', 'exporters', 'simple.ts')), 'lib/exporters');
  t.false(ALLOWED[layer(path.join('lib', 'meter', 'measure.ts'))].includes(layer(path.join('lib', 'exporters', 'pusher.ts'))));
  t.false(ALLOWED.bench.includes('test'));
  t.is(layer(path.join('lib', 'serve', 'server.ts')), 'lib/serve');
  t.false(ALLOWED['lib/exporters'].includes('lib/serve'), 'the exporters know nothing of serve');
});
