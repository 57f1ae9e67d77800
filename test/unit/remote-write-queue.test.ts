// The durable remote-write queue on made-up samples (replay, acknowledgements, damage,
// the byte bound), the dealing of a round to shards, and what the pusher refuses or
// hides: no receiver, no waiting.
import test from 'ava';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DiskQueue } from '../../lib/prometheus/disk-queue.js';
import { RemoteWritePusher, deal, type RemoteWritePushOptions } from '../../lib/prometheus/pusher.js';
import { sortedLabels, type SeriesColumns } from '../../lib/prometheus/prompb.js';
import { redactUrl, sanitizeText } from '../../lib/prometheus/request.js';
import type { Series, Taken } from '../../lib/prometheus/queue.js';

function tempDir(t: { teardown: (f: () => void) => void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'wattmeter-queue-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const A: Series = { labels: sortedLabels('m', { s: 'a' }) };
const B: Series = { labels: sortedLabels('m', { s: 'b' }) };

/** Rows at times from..to-1 (values = time x 10 for a, x 100 for b). */
function rows(queue: DiskQueue, from: number, to: number): number {
  const times = Float64Array.from({ length: to - from }, (_, i) => from + i);
  return queue.push([A, B], times, [times.map((x) => x * 10), times.map((x) => x * 100)]);
}

/** Series value of s -> its timestamps, from a take. */
function times(taken: Taken): Record<string, number[]> {
  return Object.fromEntries(
    taken.timeseries.map((ts) => [ts.labels.find((l) => l.name === 's')!.value, ts.samples.flatMap((c) => [...c.timestampsMs])]),
  );
}

const segments = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.seg')).sort();

test('the disk queue hands out samples in order, and a reopened one replays what was not acknowledged, nothing that was', (t) => {
  const dir = tempDir(t);
  const errors: string[] = [];
  let queue = new DiskQueue(dir, 1 << 20, (m) => errors.push(m));
  rows(queue, 1, 6);
  rows(queue, 6, 11);
  t.is(queue.length, 20);
  const first = queue.take(6);
  t.deepEqual(times(first), { a: [1, 2, 3], b: [1, 2, 3] });
  queue.done(first.timeseries); // accepted
  const second = queue.take(6); // sent, never acknowledged: the process dies here
  t.deepEqual(times(second), { a: [4, 5, 6], b: [4, 5, 6] });
  queue.close();

  queue = new DiskQueue(dir, 1 << 20, (m) => errors.push(m));
  t.is(queue.length, 20, 'the scan counts what the files hold');
  const replay = queue.take(100);
  t.deepEqual(times(replay), { a: [4, 5, 6, 7, 8, 9, 10], b: [4, 5, 6, 7, 8, 9, 10] }, 'acknowledged samples are not sent again');
  t.is(queue.stats().replayed, 14);
  const values = replay.timeseries.find((s) => s.labels.some((l) => l.value === 'b'))!.samples.flatMap((c) => [...c.values]);
  t.deepEqual(values, [400, 500, 600, 700, 800, 900, 1000]);
  queue.done(replay.timeseries);
  queue.commit();
  rows(queue, 11, 12); // new samples go after the replayed ones, in a new segment
  t.deepEqual(times(queue.take(100)), { a: [11], b: [11] });
  t.is(queue.length, 0);
  queue.close();
  t.deepEqual(errors, []);
});

test('a committed round deletes its segments; what is left stays', (t) => {
  const dir = tempDir(t);
  const queue = new DiskQueue(dir, 1 << 20, () => {});
  // 64 KiB segments: 2 x 4000 rows of 2 series is about 96 KB, so two segments or more.
  rows(queue, 1, 4001);
  rows(queue, 4001, 8001);
  t.true(segments(dir).length >= 2, `${segments(dir).length} segments`);
  const taken = queue.take(8000);
  queue.done(taken.timeseries);
  queue.commit();
  t.deepEqual(segments(dir).length, 1, 'the segments read to the end are gone, the one written to stays');
  t.is(queue.stats().bytes, statSync(path.join(dir, segments(dir)[0])).size);
  queue.close();
});

test('a truncated or corrupt segment is skipped from the damage on, counted and reported, and the next one is read', (t) => {
  const dir = tempDir(t);
  let queue = new DiskQueue(dir, 1 << 20, () => {});
  rows(queue, 1, 11);
  rows(queue, 11, 21);
  queue.close();
  queue = new DiskQueue(dir, 1 << 20, () => {}); // a second run, a second segment
  rows(queue, 21, 31);
  queue.close();
  queue = new DiskQueue(dir, 1 << 20, () => {}); // a third
  rows(queue, 31, 41);
  queue.close();
  const [first, second, third] = segments(dir).map((f) => path.join(dir, f));
  // A crash mid-write: the first segment's second block cut in the middle.
  truncateSync(first, statSync(first).size - 100);
  // Bit rot in the second segment's block, and garbage appended to the third.
  const bytes = readFileSync(second);
  bytes[bytes.length - 20] ^= 0xff;
  writeFileSync(second, bytes);
  appendFileSync(third, Buffer.from('garbage after a crash\n'));
  writeFileSync(path.join(dir, '0000000000000099.seg'), 'not a segment at all');

  const errors: string[] = [];
  queue = new DiskQueue(dir, 1 << 20, (m) => errors.push(m));
  const taken = queue.take(1000);
  t.deepEqual(times(taken), { a: [...range(1, 11), ...range(31, 41)], b: [...range(1, 11), ...range(31, 41)] });
  t.is(queue.length, 0);
  const { corruptSegments, corruptBytes } = queue.stats();
  t.is(corruptSegments, 4);
  t.true(corruptBytes > 0);
  t.is(errors.length, 4);
  t.regex(errors[0], /0000000000000001\.seg: bad or truncated record length \d+ at byte \d+; skipped the rest of the segment/);
  t.regex(errors[1], /checksum mismatch/);
  t.regex(errors[3], /bad magic/);
  queue.close();
});

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

test('a full disk queue drops its oldest segments and counts their samples', (t) => {
  const dir = tempDir(t);
  const queue = new DiskQueue(dir, 256 * 1024, () => {});
  let dropped = 0;
  for (let i = 0; i < 40; i++) dropped += rows(queue, 1 + i * 1000, 1 + (i + 1) * 1000); // 40 x 24 KB
  const { bytes } = queue.stats();
  t.true(bytes <= 256 * 1024 + 64 * 1024, `${bytes} bytes on disk`);
  t.true(dropped > 0);
  t.is(queue.length + dropped, 80_000, 'every sample is either queued or counted as dropped');
  const taken = queue.take(200_000);
  const a = times(taken).a;
  t.is(a.at(-1), 40_000, 'the newest are kept');
  t.is(a.length, 40_000 - dropped / 2);
  t.true(a.every((x, i) => i === 0 || x === a[i - 1] + 1), 'no hole in what is left');
  queue.close();
});

test('one pusher per queue directory', (t) => {
  const dir = tempDir(t);
  const queue = new DiskQueue(dir, 1 << 20, () => {});
  const error = t.throws(() => new DiskQueue(dir, 1 << 20, () => {}));
  t.regex(error!.message, /in use by process \d+/);
  queue.close();
  new DiskQueue(dir, 1 << 20, () => {}).close();
});

test('a round is dealt to shards by size, each series to one shard, requests within maxSamples in time order', (t) => {
  const series = (name: string, n: number, from = 0): SeriesColumns => ({
    labels: [{ name: '__name__', value: name }],
    samples: [{ timestampsMs: Float64Array.from({ length: n }, (_, i) => from + i), values: new Float64Array(n) }],
  });
  const dealt = deal([series('a', 6000), series('b', 6000), series('c', 6000), series('d', 30)], 2, 10_000);
  t.is(dealt.length, 2);
  const names = dealt.map((shard) => new Set(shard.flatMap((r) => r.map((s) => s.labels[0].value))));
  t.deepEqual(names.map((n) => n.size).sort(), [2, 2]);
  t.is(new Set([...names[0], ...names[1]]).size, 4, 'each series in one shard');
  for (const shard of dealt) {
    for (const request of shard) t.true(request.reduce((n, s) => n + s.samples.reduce((m, c) => m + c.values.length, 0), 0) <= 10_000);
    const stamps = new Map<string, number>();
    for (const request of shard) {
      for (const s of request) {
        for (const c of s.samples) {
          for (const x of c.timestampsMs) {
            t.true(x > (stamps.get(s.labels[0].value) ?? -1));
            stamps.set(s.labels[0].value, x);
          }
        }
      }
    }
  }
  t.is(deal([series('a', 25_000)], 4, 10_000)[0].length, 3, 'one series: one shard, three requests in turn');
});

const URL_ = 'http://127.0.0.1:9/api/v1/write';

async function refused(t: import('ava').ExecutionContext, options: Partial<RemoteWritePushOptions>, pattern: RegExp, secret?: string) {
  const error = t.throws(() => new RemoteWritePusher({ url: URL_, ...options }, 100), undefined, JSON.stringify(options));
  t.is((error as { kind?: string }).kind, 'usage');
  t.regex(error!.message, pattern);
  if (secret) t.false(error!.message.includes(secret), `"${secret}" appears in: ${error!.message}`);
}

test('configurations that can never work are refused at start, with a usage error that shows no secret', async (t) => {
  await refused(t, { auth: { bearerToken: 'zq9Xk\n' } }, /bearer token contains a control character/, 'zq9Xk');
  await refused(t, { auth: { bearerToken: 'jeton-Ω' } }, /outside Latin-1/);
  await refused(t, { auth: { bearerToken: ' padded' } }, /blanks/);
  await refused(t, { url: 'http://127.0.0.1:0/api/v1/write' }, /port 0/);
  await refused(t, { url: 'http://user:hunter2@127.0.0.1:9/w', auth: { bearerToken: 'abc' } }, /carries credentials and auth is given too/, 'hunter2');
  await refused(t, { url: 'ftp://user:hunter2@h/w?token=s3cret' }, /must be an http:\/\/ or https:\/\/ URL; got "ftp:\/\/xxxxx:xxxxx@h\/w\?token=xxxxx"/, 's3cret');
  await refused(t, { url: 'not a url ?token=s3cret' }, /token=xxxxx/, 's3cret');
  await refused(t, { headers: { 'X-Scope-OrgID': 'a\r\nInjected: 1' } }, /control character/);
  await refused(t, { headers: { Authorization: 'Bearer x' }, auth: { username: 'u', password: 'p' } }, /given together/);
  await refused(t, { auth: { username: 'a:b', password: 'p' } }, /cannot contain ":"/);
  await refused(t, { maxQueueBytes: 1000, queueDir: '/tmp/x' }, /at least 65536/);
  await refused(t, { maxQueueBytes: 1 << 20 }, /give queueDir too/);
  await refused(t, { maxShards: 0 }, /maxShards must be a whole number of requests/);
});

test('redactUrl hides user info and query values; sanitizeText makes a receiver body one safe line', (t) => {
  const redacted = redactUrl('https://alice:s3cret@mimir.example:443/api/v1/push?api_key=abc&x=1#frag');
  t.is(redacted, 'https://xxxxx:xxxxx@mimir.example/api/v1/push?api_key=xxxxx&x=xxxxx#frag');
  t.is(redactUrl('http://127.0.0.1:9090/api/v1/write'), 'http://127.0.0.1:9090/api/v1/write');
  const pusher = new RemoteWritePusher({ url: 'http://bob:pw@127.0.0.1:9/w?token=t0k' }, 10);
  t.is(pusher.redactedUrl, 'http://xxxxx:xxxxx@127.0.0.1:9/w?token=xxxxx');
  t.is(pusher.url.username, '', 'the credentials go in a header, not in the URL');
  void pusher.close();
  t.is(sanitizeText('\u001b[31mred\u001b[0m error\r\nInjected-Line: 1\u0007 \u202eevil'), 'red error Injected-Line: 1 evil');
  t.is(sanitizeText('x'.repeat(1000)).length, 259);
});
