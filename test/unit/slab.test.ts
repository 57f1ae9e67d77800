// The memory drains land in: views that never overlap, from buffers shared by many drains.
import test from 'ava';
import { Slab } from '../../lib/slab.js';

test('consecutive takes are disjoint views of one buffer, until it is full', (t) => {
  const slab = new Slab(0); // the smallest slab: 256 KiB, 32768 numbers
  const a = slab.take(600);
  const b = slab.take(600);
  t.is(a.buffer, b.buffer);
  t.is(b.byteOffset, a.byteOffset + 600 * 8);
  a.fill(1);
  t.true(b.every((x) => x === 0), 'writing one view leaves the next alone');
  const rest = slab.take(32768 - 1200);
  t.is(rest.buffer, a.buffer, 'the last view fills the buffer exactly');
  const next = slab.take(1);
  t.not(next.buffer, a.buffer, 'then a new buffer');
  t.true(a.every((x) => x === 1), 'earlier views keep their values');
});

test('a take larger than a slab gets a buffer of its size; a slab holds a second of ticks', (t) => {
  const slab = new Slab(0);
  t.is(slab.take(100_000).buffer.byteLength, 100_000 * 8);
  const fast = new Slab(100_000 * 6); // 100 kHz, 5 domains
  t.is(fast.take(6).buffer.byteLength, 600_000 * 8);
});

test('a buffer detached by a transfer is replaced, not written through', (t) => {
  const slab = new Slab(0);
  const a = slab.take(10);
  structuredClone(a.buffer, { transfer: [a.buffer] });
  const b = slab.take(10);
  t.is(b.length, 10);
  b[0] = 5;
  t.is(b[0], 5);
});
