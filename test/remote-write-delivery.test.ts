// Remote-write delivery under duress: a process killed with the receiver down and
// restarted on its queue directory (real Prometheus), a receiver that never answers
// (with forced garbage collections), close() during a backoff, redirects, a slow
// receiver, what gets printed, and plain HTTP on an https URL.
import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startRemoteWriteExporter, type RemoteWriteOptions, type RemoteWriteStats } from '../lib/index.js';
import { Prometheus, fakeMachine, fakeTree } from '../fixtures/prometheus.js';
import { scriptedReceiver } from '../fixtures/receiver.js';
import { cleanEnv, freePort } from '../fixtures/servers.js';

const CHILD = fileURLToPath(new URL('../fixtures/remote-write-child.js', import.meta.url));

interface Line {
  atMs: number;
  stats?: RemoteWriteStats;
  ticks?: number;
  error?: string;
  closed?: boolean;
  tookMs?: number;
}

/** The child fixture, its output parsed line by line. */
function child(t: ExecutionContext, args: object, nodeFlags: string[] = []): { process: ChildProcess; lines: Line[]; exited: Promise<unknown> } {
  const proc = spawn(process.execPath, [...nodeFlags, CHILD, JSON.stringify(args)], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Line[] = [];
  let rest = '';
  let stderr = '';
  proc.stdout!.setEncoding('utf8').on('data', (text: string) => {
    const parts = (rest + text).split('\n');
    rest = parts.pop()!;
    lines.push(...parts.filter(Boolean).map((l) => JSON.parse(l) as Line));
  });
  proc.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exited = once(proc, 'exit');
  t.teardown(() => {
    if (proc.exitCode === null) proc.kill('SIGKILL');
  });
  void exited.then(() => stderr && t.log(stderr));
  return { process: proc, lines, exited };
}

const latest = (lines: Line[]) => [...lines].reverse().find((l) => l.stats)?.stats;

/** Every stored sample of the energy series of a job, by domain: [ms, value][]. */
async function storedSamples(store: Prometheus, job: string): Promise<Map<string, number[]>> {
  const params = new URLSearchParams({ query: `wattmeter_energy_joules_total{job="${job}"}[1h]`, time: String(Date.now() / 1000) });
  const body = (await (await fetch(`${store.url}/api/v1/query?${params}`)).json()) as {
    data: { result: { metric: Record<string, string>; values: [number, string][] }[] };
  };
  return new Map(body.data.result.map((r) => [r.metric.domain, r.values.map(([s]) => Math.round(s * 1000))]));
}

test.serial('kill -9 with the receiver down, a restart on the same queue directory: nothing older than the last flush is lost, nothing out of order', async (t) => {
  const store = await Prometheus.start();
  t.teardown(() => store.remove());
  await store.stop(); // the receiver is down from the start
  const { root } = await fakeTree(t);
  const queueDir = mkdtempSync(path.join(tmpdir(), 'wattmeter-rwq-'));
  t.teardown(() => rmSync(queueDir, { recursive: true, force: true }));
  const args = { mode: 'exporter', sysfsRoot: root, rateHz: 200, options: { url: store.writeUrl, queueDir, pushIntervalMs: 200, minBackoffMs: 50, maxBackoffMs: 500, job: 'crash', instance: 'i' } };

  const first = child(t, args);
  await sleep(3000);
  const beforeKill = latest(first.lines);
  const killedMs = Date.now();
  first.process.kill('SIGKILL');
  await first.exited;

  const second = child(t, args);
  await sleep(1500);
  await store.start(); // the receiver comes back
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && !((latest(second.lines)?.sent ?? 0) > 0 && latest(second.lines)?.queued === 0)) await sleep(200);
  second.process.kill('SIGTERM');
  await second.exited;
  const end = second.lines.find((l) => l.closed)!;
  t.log('before the kill:', beforeKill, 'after the restart:', end.stats);
  t.truthy(end, 'the second run closed');
  const stats = end.stats!;
  t.true(stats.replayed > 0, 'the first run\'s queue was replayed');
  t.is(stats.failed, 0, 'no request rejected (no 400 out of order)');
  t.is(stats.dropped, 0);
  t.is(stats.corruptSegments, 0);
  t.is(await store.ownMetric('prometheus_tsdb_out_of_order_samples_total'), 0);

  const stored = await storedSamples(store, 'crash');
  t.is(stored.size, 5);
  const losses: Record<string, number> = {};
  for (const [domain, times] of stored) {
    // The first run's samples end before the kill; the second's start after it.
    const firstRun = times.filter((ms) => ms < killedMs);
    const secondRun = times.filter((ms) => ms > killedMs);
    // How many depends on how soon the child got going on a loaded machine; that both runs
    // delivered, without a hole, is what counts.
    t.true(firstRun.length > 0 && secondRun.length > 0, `${domain}: ${firstRun.length} + ${secondRun.length} samples`);
    const gaps = firstRun.slice(1).map((ms, i) => ms - firstRun[i]);
    t.true(Math.max(...gaps) < 100, `${domain}: no hole in the first run (largest gap ${Math.max(...gaps)} ms)`);
    losses[domain] = killedMs - firstRun.at(-1)!;
  }
  t.log('ms of samples lost before the kill, by domain (pushes every 200 ms; the goal is under 1000):', losses);
  for (const [domain, ms] of Object.entries(losses)) t.true(ms < 1000, `${domain}: the last ${ms} ms before the kill were lost`);
});

test.serial('a receiver that accepts and never answers: the request times out within requestTimeoutMs and is retried, even with forced garbage collections', async (t) => {
  const receiver = await scriptedReceiver(t, [0]);
  const run = child(t, { mode: 'pusher', options: { url: receiver.url, requestTimeoutMs: 500, minBackoffMs: 50, pushIntervalMs: 100 } }, ['--expose-gc']);
  await run.exited;
  const result = run.lines.find((l) => l.tookMs !== undefined)!;
  t.log(result);
  t.true(result.stats!.sent > 0, 'delivered on the retry');
  t.is(result.stats!.requests.error, 1);
  t.true(result.tookMs! < 2000, `delivered after ${result.tookMs} ms`);
  t.regex(run.lines.find((l) => l.error)!.error!, /error no answer within 500 ms; will retry/);
  t.true(receiver.received[1].atMs - receiver.received[0].atMs >= 450);
});

async function exporterOn(t: ExecutionContext, options: Omit<RemoteWriteOptions, 'sampler'>, rateHz = 200) {
  const { sampler } = await fakeMachine(t, rateHz);
  const errors: string[] = [];
  const exporter = startRemoteWriteExporter({ sampler, pushIntervalMs: 200, onError: (e) => errors.push(e.message), ...options });
  t.teardown(() => exporter.close());
  return { sampler, exporter, errors };
}

test.serial('close() during a Retry-After wait tries once more at once and delivers, within closeTimeoutMs', async (t) => {
  const receiver = await scriptedReceiver(t, [{ status: 503, headers: () => ({ 'Retry-After': '60' }) }]);
  const { exporter } = await exporterOn(t, { url: receiver.url, closeTimeoutMs: 2000 });
  while (receiver.received.length === 0) await sleep(50);
  await sleep(300); // in the 60 s wait
  const closingMs = Date.now();
  await exporter.close();
  const tookMs = Date.now() - closingMs;
  const stats = exporter.stats();
  t.log({ tookMs, ...stats });
  t.true(tookMs < 2000, `close took ${tookMs} ms`);
  t.is(stats.dropped, 0);
  t.is(stats.queued, 0);
  t.true(receiver.received[1].atMs - closingMs < 500, 'the retry went out at once');
  t.is(stats.sent, receiver.received.filter((r) => r.status === 204).reduce((n, r) => n + r.samples, 0));
});

/** A server that answers every request with `status` and Location: location(url), recording the Authorization it got. */
async function redirector(t: ExecutionContext, status: number, location: (url: string) => string) {
  const authorizations: (string | undefined)[] = [];
  const server = createServer((req, res) => {
    authorizations.push(req.headers.authorization);
    req.resume();
    res.writeHead(status, { Location: location(req.url!) }).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/api/v1/write`, authorizations };
}

test.serial('307 and 308 are followed with the same body; credentials go to the configured origin only', async (t) => {
  const receiver = await scriptedReceiver(t);
  const moved = await redirector(t, 308, () => receiver.url); // another origin (port)
  const { exporter } = await exporterOn(t, { url: moved.url, auth: { bearerToken: 'sekret' } });
  await sleep(1000);
  await exporter.close();
  const stats = exporter.stats();
  t.log(stats.requests);
  t.true(stats.sent > 0 && stats.failed === 0);
  t.true(moved.authorizations.every((a) => a === 'Bearer sekret'), 'the configured origin gets the token');
  t.true(receiver.received.length > 0 && receiver.received.every((r) => r.headers.authorization === undefined), 'another origin does not');
  t.is(stats.requests['308'], moved.authorizations.length);

  // 307 to a relative location, so the same origin: the credentials follow.
  const same = await scriptedReceiver(t, (n) => (n % 2 === 0 ? { status: 307, headers: () => ({ Location: '/api/v1/write?moved' }) } : 204));
  const again = await exporterOn(t, { url: same.url, auth: { username: 'u', password: 'p' } });
  await sleep(800);
  await again.exporter.close();
  t.true(again.exporter.stats().sent > 0);
  const followed = same.received.filter((r) => r.url.endsWith('?moved'));
  t.true(followed.length > 0 && followed.every((r) => r.headers.authorization === `Basic ${Buffer.from('u:p').toString('base64')}`));
  t.true(followed.every((r) => r.body.equals(same.received[same.received.indexOf(r) - 1].body)), 'the same body');
});

test.serial('a receiver that takes 2 s per request keeps up with 1 kHz x 5 domains through shards, in time order per series', async (t) => {
  const lastByKey = new Map<string, number>();
  let disorder = 0;
  const receiver = await scriptedReceiver(t, [], {
    delayMs: 2000,
    onAnswer: ({ timeseries }) => {
      for (const { labels, samples } of timeseries) {
        const key = JSON.stringify(labels);
        for (const { timestamp } of samples) {
          if (timestamp <= (lastByKey.get(key) ?? 0)) disorder++;
          lastByKey.set(key, timestamp);
        }
      }
    },
  });
  const { sampler, exporter } = await exporterOn(t, { url: receiver.url, pushIntervalMs: 1000, closeTimeoutMs: 15_000 }, 1000);
  await sleep(10_000);
  const during = exporter.stats();
  sampler.stop();
  await exporter.close();
  const stats = exporter.stats();
  t.log({ during, after: stats, maxConcurrent: receiver.maxConcurrent(), ticks: sampler.stats().ticks });
  t.is(stats.dropped, 0);
  t.is(disorder, 0, 'every series in time order as answered');
  t.true(receiver.maxConcurrent() >= 2, `${receiver.maxConcurrent()} requests at once`);
  t.true(during.queued < 40_000, `${during.queued} samples waiting after 10 s: keeping up`);
  t.is(stats.sent, receiver.received.reduce((n, r) => n + r.samples, 0));
  t.is(sampler.stats().dropped, 0);
});

test.serial('no secret from the URL or the credentials in any message; receiver bodies are one clean line', async (t) => {
  const receiver = await scriptedReceiver(t, () => 400, { message: () => '\u001b[31mbad\u001b[0m sample\r\n\u001b]0;owned\u0007Set-Cookie: x' });
  const url = receiver.url.replace('http://', 'http://alice:pa55word@') + '?api_key=t0ken';
  const { exporter, errors } = await exporterOn(t, { url });
  t.is(exporter.redactedUrl, url.replace('alice:pa55word', 'xxxxx:xxxxx').replace('t0ken', 'xxxxx'));
  await sleep(600);
  await exporter.close();
  const refusedPort = `http://bob:hunter2@127.0.0.1:${await freePort()}/w?token=s3cret`;
  const down = await exporterOn(t, { url: refusedPort, closeTimeoutMs: 300 });
  await sleep(400);
  await down.exporter.close();
  const all = [...errors, ...down.errors];
  t.log(all.slice(0, 2));
  t.true(errors.length > 0 && down.errors.length > 0);
  for (const message of all) {
    for (const secret of ['alice', 'pa55word', 't0ken', 'bob', 'hunter2', 's3cret']) t.false(message.includes(secret), `${secret} in: ${message}`);
    t.false(/[\u0000-\u001f\u007f]/.test(message), `a control character in: ${JSON.stringify(message)}`);
  }
  t.regex(errors[0], /: 400 bad sample Set-Cookie: x; \d+ samples rejected, not retried$/);
  t.is(receiver.received[0].headers.authorization, `Basic ${Buffer.from('alice:pa55word').toString('base64')}`);
});

test.serial('https to a plain HTTP port is a configuration error, reported clearly and not retried', async (t) => {
  const receiver = await scriptedReceiver(t);
  const errors: { code: string; message: string }[] = [];
  const { sampler } = await fakeMachine(t, 200);
  const exporter = startRemoteWriteExporter({ sampler, url: receiver.url.replace('http:', 'https:'), pushIntervalMs: 200, onError: (e) => errors.push(e) });
  await sleep(1000);
  await exporter.close();
  const stats = exporter.stats();
  t.log(errors[0]?.message);
  t.false(/[\u0000-\u001f]/.test(errors[0].message), 'one line');
  t.is(errors[0].code, 'WATTMETER_REMOTE_WRITE_CONFIG');
  t.regex(errors[0].message, /does not speak TLS on this port; use http:\/\//);
  t.true(stats.failed > 0 && stats.retried === 0);
  t.is(receiver.received.length, 0);
});
