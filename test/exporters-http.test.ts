// The scraped exporters' HTTP server: only GET/HEAD /metrics, bounded concurrency, gzip,
// loopback by default, and no harm from floods, clients that hang up mid-response, never
// read, or hold many connections: a real Prometheus scraping beside them keeps scraping.
import test from 'ava';
import { connect } from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { WattmeterError } from '../lib/index.js';
import { serveMetrics, type MetricsBody, type MetricsServerOptions } from '../lib/prometheus/http.js';
import { clientOf } from '../lib/prometheus/clients.js';
import { OPENMETRICS_FORMAT, TEXT_FORMAT } from '../lib/prometheus/text.js';
import { acceptsGzip, type ExpositionFormat } from '../lib/prometheus/accept.js';
import { get, idle, neverReading } from '../fixtures/http-client.js';
import { Prometheus } from '../fixtures/prometheus.js';

const BIG = Buffer.alloc(8 << 20, 'wattmeter_power_watts 1\n'); // 8 MiB: many socket writes

async function server(
  t: import('ava').ExecutionContext,
  render: (format: ExpositionFormat) => MetricsBody | Promise<MetricsBody>,
  maxConcurrentScrapes?: number,
  options: MetricsServerOptions = {},
) {
  const s = await serveMetrics({ host: '127.0.0.1', port: 0, maxConcurrentScrapes, ...options }, render);
  t.teardown(() => s.close());
  return s;
}

const body = (text: string | Buffer): MetricsBody => ({ contentType: TEXT_FORMAT, chunks: [Buffer.from(text)] });

test('GET and HEAD /metrics, 404 elsewhere, 405 for other methods', async (t) => {
  const s = await server(t, () => body('up 1\n'));
  const get = await fetch(`${s.url}?name[]=x`);
  t.is(get.status, 200);
  t.is(get.headers.get('content-type'), TEXT_FORMAT);
  t.is(await get.text(), 'up 1\n');
  const head = await fetch(s.url, { method: 'HEAD' });
  t.is(head.status, 200);
  t.is(await head.text(), '');
  for (const path of ['/', '/metric', '/metrics/x', '/favicon.ico']) {
    const r = await fetch(new URL(path, s.url));
    t.is(r.status, 404, path);
    await r.arrayBuffer();
  }
  for (const method of ['POST', 'PUT', 'DELETE']) {
    const r = await fetch(s.url, { method });
    t.is(r.status, 405, method);
    t.is(r.headers.get('allow'), 'GET, HEAD');
    await r.arrayBuffer();
  }
});

test('the render callback gets the format negotiated on Accept, and the response varies by it', async (t) => {
  const s = await server(t, (format) => ({ contentType: format === 'openmetrics' ? OPENMETRICS_FORMAT : TEXT_FORMAT, chunks: [Buffer.from(format)] }));
  const prometheus = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
  for (const [accept, format] of [[prometheus, 'openmetrics'], ['text/plain', 'text'], ['*/*', 'text']]) {
    const r = await fetch(s.url, { headers: { accept } });
    t.is(await r.text(), format, accept);
    t.is(r.headers.get('vary'), 'Accept, Accept-Encoding');
  }
  // No Accept header at all (fetch always sends one).
  const { hostname, port } = new URL(s.url);
  const socket = connect(Number(port), hostname);
  socket.end(`GET /metrics HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`);
  let raw = '';
  for await (const chunk of socket) raw += chunk;
  t.regex(raw, /\r\n\r\ntext$/);
  t.regex(raw, new RegExp(`^Content-Type: ${TEXT_FORMAT.replace(/[.]/g, '\\.')}\r$`, 'mi'));
});

test('scrapes beyond the concurrency bound get 503 at once, the last slot only for a client with none in flight', async (t) => {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const s = await server(
    t,
    async () => {
      await gate;
      return body('up 1\n');
    },
    3,
  );
  const from = (localAddress: string) => get(s.url, { localAddress });
  const slow = [from('127.0.0.1'), from('127.0.0.1')];
  await sleep(200); // the two are rendering
  const refused = await from('127.0.0.1'); // one slot is left, but this client has two in flight
  t.is(refused.status, 503);
  t.is(refused.headers['retry-after'], '1');
  slow.push(from('127.0.0.2')); // a fresh client takes the last slot
  await sleep(200);
  t.is((await from('127.0.0.3')).status, 503); // all three are taken
  open();
  const done = await Promise.all(slow);
  t.deepEqual(done.map((r) => r.body.toString()), ['up 1\n', 'up 1\n', 'up 1\n']);
  t.is((await fetch(s.url)).status, 200); // the slots came back
});

test('one client has at most maxScrapesPerClient responses in flight', async (t) => {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const s = await server(t, async () => (await gate, body('up 1\n')), 10, { maxScrapesPerClient: 2 });
  const slow = [1, 2].map(() => get(s.url, { localAddress: '127.0.0.2' }));
  await sleep(200);
  t.is((await get(s.url, { localAddress: '127.0.0.2' })).status, 503);
  open();
  t.deepEqual((await Promise.all(slow)).map((r) => r.status), [200, 200]);
});

test('a flood of clients that hang up mid-response, send garbage or nothing leaves the server serving', async (t) => {
  // Bodies of one buffer (sent at once) and of several (streamed), in turn.
  let scrapes = 0;
  const s = await server(t, () => ({ contentType: TEXT_FORMAT, chunks: scrapes++ % 2 ? [BIG] : [BIG, BIG] }), 10);
  const { port } = s;
  const hangUpMidResponse = async () => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    await once(socket, 'data');
    socket.destroy();
  };
  const garbage = async () => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.end('\x16\x03\x01 not http at all\r\n\r\n');
    socket.resume(); // read the 400, so that the socket can end
    await once(socket, 'close');
  };
  const silent = async () => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await once(socket, 'connect');
    socket.destroy();
  };
  await Promise.all(Array.from({ length: 300 }, (_, i) => [hangUpMidResponse, garbage, silent][i % 3]()));
  for (const size of scrapes % 2 ? [BIG.length, 2 * BIG.length] : [2 * BIG.length, BIG.length]) {
    const after = await fetch(s.url);
    t.is(after.status, 200);
    t.is((await after.arrayBuffer()).byteLength, size);
  }
});

test('a port in use is a clear error', async (t) => {
  const first = await server(t, () => body(''));
  const error = await t.throwsAsync(serveMetrics({ host: '127.0.0.1', port: first.port }, () => body('')), {
    instanceOf: WattmeterError,
  });
  t.regex(error!.message, new RegExp(`Cannot serve metrics on 127.0.0.1:${first.port}: .*EADDRINUSE`));
});

test('a client is an IPv4 address, or an IPv6 /64', (t) => {
  t.is(clientOf('127.0.0.2'), '127.0.0.2');
  t.is(clientOf('::ffff:10.0.0.7'), '10.0.0.7');
  t.is(clientOf('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  t.is(clientOf('2001:db8:1:2::9'), '2001:db8:1:2::/64');
  t.is(clientOf('2001:0db8::1%eth0'), '2001:db8:0:0::/64');
  t.is(clientOf('::1'), '0:0:0:0::/64');
  t.is(clientOf(undefined), '');
});

test('listens on 127.0.0.1 unless told otherwise', async (t) => {
  const s = await serveMetrics({ port: 0 }, () => body('up 1\n'));
  t.teardown(() => s.close());
  t.is(new URL(s.url).hostname, '127.0.0.1');
  t.is((await fetch(s.url)).status, 200);
});

test('gzip when the client accepts it, streamed, with Vary; HEAD and identity as before', async (t) => {
  const s = await server(t, () => ({ contentType: TEXT_FORMAT, chunks: [BIG, BIG] }));
  const gz = await get(s.url, { headers: { 'Accept-Encoding': 'gzip' } });
  t.is(gz.status, 200);
  t.is(gz.headers['content-encoding'], 'gzip');
  t.is(gz.headers.vary, 'Accept, Accept-Encoding');
  t.is(gz.headers['content-length'], undefined);
  t.true(gz.body.length < BIG.length / 10, `${gz.body.length} bytes gzipped`);
  t.true(gunzipSync(gz.body).equals(Buffer.concat([BIG, BIG])));
  const plain = await get(s.url, { headers: { 'Accept-Encoding': 'gzip;q=0, identity' } });
  t.is(plain.headers['content-encoding'], undefined);
  t.is(plain.headers['content-length'], String(2 * BIG.length));
  t.is(plain.body.length, 2 * BIG.length);
  const head = await get(s.url, { method: 'HEAD', headers: { 'Accept-Encoding': 'gzip' } });
  t.is(head.status, 200);
  t.is(head.headers['content-encoding'], 'gzip');
  t.is(head.body.length, 0);
  t.true(acceptsGzip('deflate, gzip;q=0.5'));
  t.true(acceptsGzip('*'));
  t.false(acceptsGzip('gzip;q=0, *'));
  t.false(acceptsGzip(undefined));
  t.false(acceptsGzip('br, deflate'));
});

test('a response not written within writeTimeoutMs loses its connection and gives back its slot', async (t) => {
  // Only the stuck client is sent a body too big to fit the socket buffers: the one that
  // gets the slot next must not itself need more than writeTimeoutMs to read its reply.
  let renders = 0;
  const s = await server(t, () => (renders++ === 0 ? { contentType: TEXT_FORMAT, chunks: [BIG, BIG, BIG] } : body('up 1\n')), 1, { writeTimeoutMs: 1000 });
  const started = Date.now();
  const stuck = await neverReading(s.port, '127.0.0.2');
  t.teardown(() => stuck.destroy());
  await sleep(300);
  t.is((await get(s.url, { localAddress: '127.0.0.3' })).status, 503); // the only slot is held
  while ((await get(s.url, { localAddress: '127.0.0.3' })).status === 503) await sleep(100);
  const heldMs = Date.now() - started;
  t.true(heldMs >= 900 && heldMs < 3000, `held ${heldMs} ms`);
});

test('connections beyond maxConnectionsPerClient are closed as they open; other clients get in', async (t) => {
  const s = await server(t, () => body('up 1\n'), 10, { maxConnectionsPerClient: 8 });
  const sockets = await Promise.all(Array.from({ length: 40 }, () => idle(s.port, '127.0.0.2')));
  t.teardown(() => sockets.forEach((socket) => socket.destroy()));
  const open = () => sockets.filter((socket) => !socket.destroyed && socket.readyState === 'open').length;
  for (let i = 0; i < 50 && open() > 8; i++) await sleep(100); // the closes arrive as the loop gets to them
  await sleep(200);
  t.is(open(), 8);
  t.is((await get(s.url, { localAddress: '127.0.0.1' })).status, 200);
});

// The two attacks of issue 12, each beside a real Prometheus scraping every second: its
// scrapes must all succeed, and quickly. A 24 MiB body (comments: cheap for Prometheus to
// parse, gzipped to little for it) fills the socket buffers of a client that never reads.
test.serial('Prometheus keeps scraping beside ten clients that never read and 1100 idle connections', async (t) => {
  const filler = Buffer.alloc(24 << 20, '# padding that a scraper skips over\n');
  const s = await server(t, () => ({ contentType: TEXT_FORMAT, chunks: [Buffer.from('up_test 1\n'), filler] }));
  const prometheus = await Prometheus.start({ targets: [{ job: 'attacked', url: s.url }], scrapeIntervalMs: 1000 });
  t.teardown(() => prometheus.remove());
  await prometheus.scraped('attacked');
  const scrapedFine = async (sinceMs: number, what: string) => {
    await sleep(6000);
    const window = `${Math.floor((Date.now() - sinceMs) / 1000)}s`;
    const [up] = await prometheus.query(`min_over_time(up{job="attacked"}[${window}])`);
    const [count] = await prometheus.query(`count_over_time(up{job="attacked"}[${window}])`);
    const [slowest] = await prometheus.query(`max_over_time(scrape_duration_seconds{job="attacked"}[${window}])`);
    t.is(up?.value[1], '1', `${what}: every scrape succeeded`);
    t.true(Number(count?.value[1]) >= 4, `${what}: ${count?.value[1]} scrapes`);
    // up == 1 already says each scrape finished within Prometheus's scrape timeout; how
    // far within depends on the machine's load, so it is shown, not asserted.
    t.log(`${what}: the slowest scrape took ${slowest?.value[1]} s`);
  };

  // Ten clients on one host that ask and never read: at most 4 hold a slot, for 30 s.
  let since = Date.now();
  const stuck = await Promise.all(Array.from({ length: 10 }, () => neverReading(s.port, '127.0.0.2')));
  t.teardown(() => stuck.forEach((socket) => socket.destroy()));
  await sleep(500);
  t.is((await get(s.url, { localAddress: '127.0.0.2' })).status, 503, 'the attack holds its share');
  await scrapedFine(since, 'ten clients that never read');
  stuck.forEach((socket) => socket.destroy());

  // 1100 connections that send nothing, from one host, then from 40 hosts (more than the
  // server's 1024 connections in all): Prometheus's connection stays, and a fresh scraper
  // gets in.
  since = Date.now();
  const one = await Promise.all(Array.from({ length: 1100 }, () => idle(s.port, '127.0.0.2')));
  t.teardown(() => one.forEach((socket) => socket.destroy()));
  await scrapedFine(since, '1100 connections from one client');
  one.forEach((socket) => socket.destroy());
  since = Date.now();
  const many = await Promise.all(Array.from({ length: 1100 }, (_, i) => idle(s.port, `127.0.1.${2 + (i % 40)}`)));
  t.teardown(() => many.forEach((socket) => socket.destroy()));
  await scrapedFine(since, '1100 connections from 40 clients');
  const fresh = await get(s.url, { localAddress: '127.0.0.9', headers: { 'Accept-Encoding': 'gzip' } });
  t.is(fresh.status, 200);
});
