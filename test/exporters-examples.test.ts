// The three example programs as a user runs them: configured from the environment,
// clear one-line errors, clean stop on SIGTERM / SIGINT.
import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { fakeTree } from '../fixtures/prometheus.js';
import { fakeProcStat, removeRoot, tempRoot } from '../fixtures/fake-rapl.js';
import { cleanEnv, freePort, startServer } from '../fixtures/servers.js';

const example = (name: string) => fileURLToPath(new URL(`../examples/${name}.js`, import.meta.url));

for (const name of ['simple', 'multirate']) {
  test(`${name} example serves /metrics and stops cleanly on SIGTERM`, async (t) => {
    const { root } = await fakeTree(t);
    const port = await freePort();
    const env = cleanEnv({ WATTMETER_SYSFS_ROOT: root, WATTMETER_HOST: '127.0.0.1', WATTMETER_PORT: String(port), WATTMETER_RATE_HZ: '100' });
    const server = await startServer(process.execPath, [example(name)], `http://127.0.0.1:${port}/metrics`, { env });
    t.teardown(() => server.stop());
    await sleep(300);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    t.regex(text, new RegExp(`^wattmeter_energy_joules_total\\{[^}]*exporter="${name}"[^}]*\\} [\\d.e-]+`, 'm'));
    t.regex(text, new RegExp(`^wattmeter_sampler_rate_hertz\\{exporter="${name}"\\} 100$`, 'm'));
    t.regex(server.output(), new RegExp(`wattmeter ${name} exporter on http://127.0.0.1:${port}/metrics \\(powercap: `));
    const exited = once(server.child, 'exit');
    server.child.kill('SIGTERM');
    const [code] = await Promise.race([exited, sleep(5000, ['still running'])]);
    t.is(code, 0, server.output());
  });
}

test('an example on a machine without RAPL says once why it fell back to the model', async (t) => {
  const root = tempRoot();
  t.teardown(() => removeRoot(root));
  fakeProcStat(root, 0.5);
  const port = await freePort();
  const env = cleanEnv({
    WATTMETER_SYSFS_ROOT: root,
    WATTMETER_PROC_ROOT: path.join(root, 'proc'),
    WATTMETER_MSR_PATH: path.join(root, 'dev/cpu/%d/msr'),
    WATTMETER_HOST: '127.0.0.1',
    WATTMETER_PORT: String(port),
  });
  const server = await startServer(process.execPath, [example('simple')], `http://127.0.0.1:${port}/metrics`, { env });
  t.teardown(() => server.stop());
  await sleep(300);
  const reasons = server.output().split('\n').filter((line) => line.startsWith('wattmeter: '));
  t.is(reasons.length, 2, server.output());
  t.regex(reasons[0], /^wattmeter: powercap: .*\(no powercap driver loaded; virtual machines rarely expose RAPL/);
  t.regex(reasons[1], /^wattmeter: msr: /);
  t.regex(server.output(), /exporter on http:\/\/127\.0\.0\.1:\d+\/metrics \(model: package-0\)/);
});

test('remote-write example pushes, and on SIGINT pushes what is left and says so', async (t) => {
  const { root } = await fakeTree(t);
  let requests = 0;
  const receiver = createServer((req, res) => {
    requests++;
    req.resume().on('end', () => res.writeHead(204).end());
  });
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  t.teardown(() => receiver.close());
  const url = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/api/v1/write`;
  const env = cleanEnv({ WATTMETER_SYSFS_ROOT: root, WATTMETER_REMOTE_WRITE_URL: url, WATTMETER_PUSH_INTERVAL_MS: '200', WATTMETER_JOB: 'j', WATTMETER_INSTANCE: 'i' });
  const child = spawn(process.execPath, [example('remote-write')], { env });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  while (requests < 2) await sleep(50); // running, with its signal handlers installed
  child.kill('SIGINT');
  const [code] = await once(child, 'exit');
  t.is(code, 0, output);
  t.regex(output, new RegExp(`^wattmeter remote write to ${url} as job=j instance=i$`, 'm'));
  t.regex(output, /^stopped: [1-9]\d* samples sent, 0 rejected, 0 dropped$/m);
});

function runExample(name: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [example(name)], { env: cleanEnv(env) }, (error, stdout, stderr) => {
      resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}

const badEnvironments: [string, Record<string, string>, RegExp][] = [
  ['simple', { WATTMETER_PORT: 'http' }, /^WATTMETER_PORT must be a number; got "http"\.$/],
  ['simple', { WATTMETER_PORT: '9091.5' }, /^WATTMETER_PORT must be a whole number; got 9091\.5\.$/],
  ['multirate', { WATTMETER_PORT: '70000' }, /^WATTMETER_PORT must be between 0 and 65535; got 70000\.$/],
  ['multirate', { WATTMETER_RATE_HZ: 'fast' }, /^WATTMETER_RATE_HZ must be a number; got "fast"\.$/],
  ['multirate', { WATTMETER_MULTIRATE_WINDOW_MS: '500' }, /^WATTMETER_MULTIRATE_WINDOW_MS must be between 1000 and 600000; got 500\.$/],
  ['remote-write', {}, /^WATTMETER_REMOTE_WRITE_URL is required, e\.g\. http:\/\/localhost:9090\/api\/v1\/write$/],
  ['remote-write', { WATTMETER_REMOTE_WRITE_URL: 'localhost:9090' }, /must be an http:\/\/ or https:\/\/ URL; got "localhost:9090"/],
  ['remote-write', { WATTMETER_REMOTE_WRITE_URL: 'http://x/api/v1/write', WATTMETER_PUSH_INTERVAL_MS: '0' }, /^WATTMETER_PUSH_INTERVAL_MS must be between 10 and 3600000; got 0\.$/],
  [
    'remote-write',
    { WATTMETER_REMOTE_WRITE_URL: 'http://x/api/v1/write', WATTMETER_REMOTE_WRITE_BEARER_TOKEN: 't', WATTMETER_REMOTE_WRITE_USERNAME: 'u' },
    /^Set either WATTMETER_REMOTE_WRITE_BEARER_TOKEN or WATTMETER_REMOTE_WRITE_USERNAME\/WATTMETER_REMOTE_WRITE_PASSWORD, not both\.$/,
  ],
  ['remote-write', { WATTMETER_REMOTE_WRITE_URL: 'http://x/api/v1/write', WATTMETER_REMOTE_WRITE_USERNAME: 'u' }, /go together; only one is set/],
  ['simple', { WATTMETER_SYSFS_ROOT: '/nonexistent' }, /^\/nonexistent does not exist/],
];

test('a missing or malformed setting is one line on stderr and exit code 2', async (t) => {
  await Promise.all(
    badEnvironments.map(async ([name, env, message]) => {
      const { code, stdout, stderr } = await runExample(name, env);
      const what = `${name} ${JSON.stringify(env)}: ${stderr}`;
      t.is(code, 2, what);
      t.is(stdout, '', what);
      t.regex(stderr.trimEnd(), message, what);
      t.notRegex(stderr, /^\s+at /m, `${what}: no stack trace`);
    }),
  );
});
