// `wattmeter serve` as a user runs it, and what its one address serves to whom: both
// exporters' metrics (clean for promtool), the page and its stream behind the same basic
// auth as the metrics, to this machine's own names only, never with a CORS header.
import test from 'ava';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { openSampler } from '../lib/index.js';
import { ESTIMATE_BANNER, SERVE_PATHS, startServe } from '../lib/serve/server.js';
import { spawnWattmeter, wattmeter } from '../fixtures/cli.js';
import { get } from '../fixtures/http-client.js';
import { FakeWriter, fakeProcStat, removeRoot, tempRoot } from '../fixtures/fake-rapl.js';
import { fakeTree, promtoolCheckMetrics } from '../fixtures/prometheus.js';
import { freePort } from '../fixtures/servers.js';
import { scriptedReceiver } from '../fixtures/receiver.js';

test('wattmeter serve serves both exporters, clean for promtool; SIGTERM and --duration 1 each end it with exit 0', async (t) => {
  const { root } = await fakeTree(t);
  const port = await freePort();
  // Scraped until both answer, then stopped: a --duration would race the scrapes on a busy machine.
  const child = spawnWattmeter(['serve', '--sysfs-root', root, '--port', String(port)]);
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = once(child, 'exit');
  while (!output.includes('live page on') && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  t.regex(output, new RegExp(`^wattmeter serve: live page on http://127.0.0.1:${port}/ \\(powercap: package-0, `, 'm'));
  // Both scraped while it runs (the first drain comes 100 ms after start), checked after.
  const scrapes: Record<string, string> = {};
  for (const [kind, path] of [['simple', SERVE_PATHS.simple], ['multirate', SERVE_PATHS.multirate]]) {
    const line = new RegExp(`^wattmeter_energy_joules_total\\{.*exporter="${kind}"`, 'm');
    do scrapes[kind] = await (await fetch(`http://127.0.0.1:${port}${path}`)).text();
    while (!line.test(scrapes[kind]));
  }
  child.kill('SIGTERM');
  t.is((await exited)[0], 0, output);
  for (const [kind, text] of Object.entries(scrapes)) {
    const check = await promtoolCheckMetrics(text);
    t.is(check.code, 0, `${kind}: ${check.output}`);
    t.is(check.output.trim(), '', `${kind}: promtool has nothing to say`);
  }
  const timed = await wattmeter(['serve', '--sysfs-root', root, '--port', String(await freePort()), '--duration', '1']);
  t.is(timed.code, 0, timed.stderr);
});

test('serve: bad input is one line naming the flag, exit 2', async (t) => {
  for (const [args, message] of [
    [['serve', '--url', 'ftp://h/w'], /--url \/ WATTMETER_REMOTE_WRITE_URL must be an http:\/\/ or https:\/\/ URL/],
    [['serve', '--port', '-1'], /--port/],
    [['serve', '--window-ms', '5'], /--window-ms \/ WATTMETER_MULTIRATE_WINDOW_MS must be between 1000 and 600000/],
    [['serve', '--format', 'csv'], /--format is not an option of `wattmeter serve`/],
  ] as const) {
    const { code, stderr } = await wattmeter([...args]);
    t.is(code, 2, args.join(' '));
    t.regex(stderr, message);
    t.notRegex(stderr, /\n\s+at /, 'no stack trace');
  }
});

test('the page, its files and its stream ask for the same basic auth as the metrics, answer only this machine, and send no CORS header', async (t) => {
  const { root } = await fakeTree(t);
  const dir = mkdtempSync(path.join(tmpdir(), 'wattmeter-serve-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const webConfigFile = path.join(dir, 'web.yml');
  writeFileSync(webConfigFile, JSON.stringify({ basic_auth_users: { viewer: bcrypt.hashSync('s3cret', 4) } }));
  const sampler = openSampler({ sysfsRoot: root, rateHz: 200 });
  const served = await startServe({ sampler, port: 0, webConfigFile });
  t.teardown(async () => {
    await served.close();
    sampler.close();
  });
  const auth = { Authorization: `Basic ${Buffer.from('viewer:s3cret').toString('base64')}` };
  const origin = served.url.slice(0, -1);
  for (const path of ['/', '/live.js', '/uplot.js', '/uplot.css', SERVE_PATHS.events, SERVE_PATHS.simple, SERVE_PATHS.multirate]) {
    t.is((await get(`${origin}${path}`)).status, 401, `${path} without credentials`);
  }
  for (const path of ['/', '/live.js', '/uplot.js', '/uplot.css', SERVE_PATHS.simple]) {
    const res = await get(`${origin}${path}`, { headers: auth });
    t.is(res.status, 200, path);
    t.is(res.headers['access-control-allow-origin'], undefined, `${path}: no CORS header`);
  }
  const page = await get(`${origin}/`, { headers: auth });
  t.regex(String(page.headers['content-security-policy']), /default-src 'none'; script-src 'self'/);
  // The stream: opened with credentials, it says hello and sends samples in batches.
  const stream = await fetch(`${origin}${SERVE_PATHS.events}`, { headers: auth });
  t.is(stream.status, 200);
  t.is(stream.headers.get('content-type'), 'text/event-stream');
  t.is(stream.headers.get('access-control-allow-origin'), null);
  const reader = stream.body!.getReader();
  let text = '';
  while (!text.includes('event: samples')) text += new TextDecoder().decode((await reader.read()).value);
  await reader.cancel();
  t.regex(text, /^retry: \d+\n\nevent: hello\ndata: \{"id":/);
  // A name rebound to 127.0.0.1 by someone else's DNS, or another origin, gets nothing.
  t.is((await get(`${origin}/`, { headers: { ...auth, Host: 'attacker.example' } })).status, 421);
  t.is((await get(`${origin}${SERVE_PATHS.events}`, { headers: { ...auth, Host: 'attacker.example:80' } })).status, 421);
  t.is((await get(`${origin}${SERVE_PATHS.events}`, { headers: { ...auth, Origin: 'http://attacker.example' } })).status, 403);
  t.is((await get(`${origin}/`, { headers: { ...auth, Host: `localhost:${served.port}` } })).status, 200);
});

test('on the model, the page is told the watts are an estimate and how to get a measurement', async (t) => {
  const root = tempRoot();
  const writer = await FakeWriter.start(fakeProcStat(root, 0.5));
  t.teardown(async () => {
    await writer.stop();
    removeRoot(root);
  });
  const sampler = openSampler({ source: 'model', procRoot: path.join(root, 'proc'), rateHz: 100 });
  const served = await startServe({ sampler, port: 0 });
  t.teardown(async () => {
    await served.close();
    sampler.close();
  });
  const stream = await fetch(`${served.url.slice(0, -1)}${SERVE_PATHS.events}`);
  const reader = stream.body!.getReader();
  let text = '';
  while (!/event: hello\ndata: .*\n/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
  await reader.cancel();
  const hello = JSON.parse(/event: hello\ndata: (.*)\n/.exec(text)![1]) as { source: string; estimate: string };
  t.is(hello.source, 'model');
  t.is(hello.estimate, ESTIMATE_BANNER);
  t.regex(hello.estimate, /ESTIMATE from CPU use .* not a measurement.*RAPL/);
});

test('serve --url also pushes to a remote-write receiver, and says what it sent', async (t) => {
  const { root } = await fakeTree(t);
  const receiver = await scriptedReceiver(t);
  const port = await freePort();
  const args = ['serve', '--sysfs-root', root, '--port', String(port), '--url', receiver.url, '--push-interval-ms', '200', '--duration', '1.5'];
  const { code, stdout, stderr } = await wattmeter(args);
  t.is(code, 0, stderr);
  t.true(stdout.includes(`  remote write: pushing to ${receiver.url} as job=wattmeter instance=`), stdout);
  t.regex(stdout, /^stopped: [1-9]\d* samples sent by remote write, 0 rejected, 0 dropped$/m);
  t.true(receiver.received.length >= 2, `${receiver.received.length} requests received`);
});
