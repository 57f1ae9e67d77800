// `wattmeter export`: the three exporters as an operator runs them, configured by flags
// or variables, stopped cleanly by a signal; as root with --user, the port is bound first.
import test from 'ava';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import bcrypt from 'bcryptjs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI, spawnWattmeter, wattmeter } from '../fixtures/cli.js';
import { scriptedReceiver } from '../fixtures/receiver.js';
import { energyFile, makeRootOnly } from '../fixtures/fake-rapl.js';
import { fakeTree } from '../fixtures/prometheus.js';
import { cleanEnv, freePort, startServer } from '../fixtures/servers.js';

/** Scrapes until a line matches (the first drain comes 100 ms after start), for up to 10 s. */
async function scrapeUntil(url: string, line: RegExp): Promise<string> {
  let text = '';
  for (const deadline = Date.now() + 10_000; !line.test(text) && Date.now() < deadline; await sleep(50)) {
    text = await (await fetch(url)).text();
  }
  return text;
}

const exit = async (server: { child: import('node:child_process').ChildProcess }, signal: NodeJS.Signals) => {
  const exited = once(server.child, 'exit');
  server.child.kill(signal);
  return (await exited)[0] as number | null;
};

for (const [kind, line] of [
  ['simple', /^wattmeter_energy_joules_total\{domain="package-0",source="powercap",exporter="simple"\} [\d.]+$/m],
  ['multirate', /^wattmeter_energy_joules_total\{domain="package-0",exporter="multirate",source="powercap"\} [\d.]+ \d{13}$/m],
] as const) {
  test(`export ${kind}: flags configure it, it serves /metrics, SIGTERM stops it with exit 0`, async (t) => {
    const { root } = await fakeTree(t);
    const port = await freePort();
    const args = ['export', kind, '--sysfs-root', root, '--rate', '200', '--host', '127.0.0.1', '--port', String(port)];
    if (kind === 'multirate') args.push('--window-ms', '5000');
    const server = await startServer(process.execPath, [CLI, ...args], `http://127.0.0.1:${port}/metrics`, { env: cleanEnv() });
    t.teardown(() => server.stop());
    t.regex(server.output(), new RegExp(`^wattmeter ${kind} exporter on http://127.0.0.1:${port}/metrics \\(powercap: `, 'm'));
    const scraped = await scrapeUntil(`http://127.0.0.1:${port}/metrics`, /^wattmeter_sampler_lateness_p50_seconds\S* [1-9]/m);
    t.regex(scraped, line);
    // Every value a rounded one (lateness to the nanosecond, energy and power to the micro
    // unit), printed without float noise such as 0.000017536000000000003.
    const values = [...scraped.matchAll(/^[a-z_]+(?:\{[^}]*\})? (\S+)/gm)].map(([, value]) => value);
    t.true(values.length > 10);
    const noisy = values.filter((value) => value.replace(/^-|e.*$/g, '').replace('.', '').replace(/^0+/, '').length > 13);
    t.deepEqual(noisy, []);
    t.is(await exit(server, 'SIGTERM'), 0, server.output());
  });
}

test('export remote-write: pushes to --url, and on SIGINT pushes what is left and says so', async (t) => {
  const { root } = await fakeTree(t);
  const receiver = await scriptedReceiver(t);
  const url = receiver.url;
  const args = ['export', 'remote-write', '--url', `${url}?token=secret`, '--push-interval-ms', '200', '--job', 'j', '--instance', 'i'];
  const child = spawnWattmeter(args, { env: { WATTMETER_SYSFS_ROOT: root } });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  t.teardown(() => child.kill('SIGKILL'));
  while (receiver.received.length < 2 && child.exitCode === null) await sleep(50);
  t.is(await exit({ child }, 'SIGINT'), 0, output);
  t.true(output.includes(`wattmeter remote-write exporter pushing to ${url}?token=xxxxx as job=j instance=i (powercap: `), output);
  t.notRegex(output, /secret/, 'the query string of the URL is not printed');
  t.regex(output, /^stopped: [1-9]\d* samples sent, 0 rejected, 0 dropped$/m);
});

test('export: bad input is one line naming the flag or variable, exit 2', async (t) => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['export'], {}, /Which exporter\? wattmeter export simple\|multirate\|remote-write/],
    [['export', 'pull'], {}, /Unknown exporter "pull": choose one of simple, multirate, remote-write/],
    [['export', 'remote-write'], {}, /--url \/ WATTMETER_REMOTE_WRITE_URL is required/],
    [['export', 'simple', '--port', '70000'], {}, /--port \/ WATTMETER_PORT must be between 0 and 65535/],
    [['export', 'simple'], { WATTMETER_PORT: 'x' }, /--port \/ WATTMETER_PORT must be a number/],
    [['read', '--port', '9'], {}, /--port is not an option of `wattmeter read`/],
    [['export', 'simple', 'extra'], {}, /Unexpected argument "extra"/],
    [['export', 'simple', '--url', 'http://x/'], {}, /--url is not an option of `wattmeter export simple`/],
    [['export', 'remote-write', '--port', '9'], {}, /--port is not an option of `wattmeter export remote-write`/],
    [['export', 'simple', '--duration', '3000000'], {}, /--duration needs a positive number of seconds, at most 2147483 \(leave it out to run until stopped\); got 3000000/],
    [['export', 'remote-write', '--url', 'http://127.0.0.1:1/w', '--max-queue-bytes', '100000'], {}, /--max-queue-bytes \/ WATTMETER_REMOTE_WRITE_MAX_QUEUE_BYTES bounds the disk queue: set --queue-dir/],
    [['export', 'remote-write', '--url', 'ftp://u:hunter2@h/w'], {}, /must be an http:\/\/ or https:\/\/ URL; got "ftp:\/\/xxxxx:xxxxx@h\/w"/],
  ];
  for (const [args, env, message] of cases) {
    const result = await wattmeter(args, { env });
    t.is(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    t.regex(result.stderr, message, args.join(' '));
    t.notRegex(result.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('export simple --user: opens the root-only counters and binds a port below 1024 as root, then runs as the user with no_new_privs', async (t) => {
  if (process.getuid?.() !== 0) return t.pass('needs root');
  const { root } = await fakeTree(t);
  makeRootOnly(energyFile(root, 'intel-rapl:0'));
  // A privileged port nobody uses on a test machine; a bind failure says so clearly.
  const port = 1000 + Math.floor(Math.random() * 20);
  const args = ['export', 'simple', '--sysfs-root', root, '--rate', '100', '--port', String(port), '--user', 'nobody'];
  const server = await startServer(process.execPath, [CLI, ...args], `http://127.0.0.1:${port}/metrics`, { env: cleanEnv() });
  t.teardown(() => server.stop());
  const status = readFileSync(path.join('/proc', String(server.child.pid), 'status'), 'utf8');
  t.regex(status, /^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
  t.regex(status, /^NoNewPrivs:\s+1$/m);
  const line = /^wattmeter_energy_joules_total\{domain="package-0"/m;
  t.regex(await scrapeUntil(`http://127.0.0.1:${port}/metrics`, line), line, 'still reading the root-only counter');
  t.is(await exit(server, 'SIGTERM'), 0, server.output());
});

test('export --web-config: basic auth from an exporter-toolkit file guards /metrics; a bad file is a clear error at start', async (t) => {
  const { root } = await fakeTree(t);
  const dir = mkdtempSync(path.join(tmpdir(), 'wattmeter-cli-web-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = path.join(dir, 'web.yml');
  writeFileSync(config, `basic_auth_users:\n  prometheus: ${bcrypt.hashSync('s3cret', 4)}\n`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/metrics`;
  const child = spawnWattmeter(['export', 'simple', '--sysfs-root', root, '--port', String(port), '--web-config', config]);
  t.teardown(() => child.kill('SIGKILL'));
  let status = 0;
  for (const deadline = Date.now() + 10_000; status === 0 && Date.now() < deadline; await sleep(100)) {
    status = await fetch(url).then((r) => r.status, () => 0);
  }
  t.is(status, 401, 'no credentials');
  const auth = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
  t.is((await fetch(url, { headers: auth('prometheus', 'wrong') })).status, 401);
  t.is((await fetch(url, { headers: auth('prometheus', 's3cret') })).status, 200);

  writeFileSync(config, 'basic_auth_users:\n  prometheus: not-a-hash\n');
  const bad = await wattmeter(['export', 'simple', '--sysfs-root', root, '--port', '0', '--web-config', config]);
  t.is(bad.code, 2, bad.stderr);
  t.regex(bad.stderr, new RegExp(`${config.replace(/[.]/g, '\\.')}.*basic_auth_users`));
  t.notRegex(bad.stderr, /\n\s+at /);
});
