// Child process that plays the RAPL hardware: every period it advances each fake counter
// in place (same file, same inode, so a reader's kept-open descriptor sees it), from the
// energy that `watts` delivers over the time that really passed. Driven over IPC by
// FakeWriter in fake-rapl.ts.
import { closeSync, openSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { CounterSpec, WriterCommand, WriterReply } from './fake-rapl.js';

interface LiveCounter {
  spec: CounterSpec;
  fd: number;
  watts: number;
  energyJ: number; // delivered since the writer started
  seconds: number; // time the writer has been advancing it
}

const send = (reply: WriterReply) => process.send!(reply);

function render(counter: LiveCounter): { buffer: Buffer; raw: number } {
  const { spec } = counter;
  if (spec.format === 'procstat') {
    // Jiffies at 100 Hz per CPU; `watts` is read as a utilisation in 0..1, so energyJ
    // holds busy seconds.
    const cpus = spec.cpus ?? 1;
    const busy = Math.floor(counter.energyJ * 100 * cpus);
    const idle = Math.floor((counter.seconds - counter.energyJ) * 100 * cpus);
    const line = `cpu  ${busy} 0 0 ${idle} 0 0 0 0 0 0\n`;
    return { buffer: Buffer.from(line.padEnd(96, ' ')), raw: busy };
  }
  const raw = (Math.floor(counter.energyJ / spec.unitJoules) + (spec.start ?? 0)) % spec.wrap;
  if (spec.format === 'decimal') return { buffer: Buffer.from(`${raw}\n`), raw };
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64LE(BigInt(raw));
  return { buffer, raw };
}

let counters: LiveCounter[] = [];
let last = performance.now();
let paused = false;

function tick(): void {
  const now = performance.now();
  const dtS = (now - last) / 1000;
  last = now;
  if (paused) return;
  for (const counter of counters) {
    counter.energyJ += counter.watts * dtS;
    counter.seconds += dtS;
    writeSync(counter.fd, render(counter).buffer, 0, undefined, counter.spec.offset);
  }
}

function snapshot(): Record<string, { energyJ: number; raw: number }> {
  return Object.fromEntries(counters.map((c) => [c.spec.key, { energyJ: c.energyJ, raw: render(c).raw }]));
}

process.on('message', (command: WriterCommand) => {
  switch (command.type) {
    case 'start':
      counters = command.counters.map((spec) => ({ spec, fd: openSync(spec.file, 'r+'), watts: spec.watts, energyJ: 0, seconds: 0 }));
      last = performance.now();
      tick();
      setInterval(tick, command.periodMs);
      break;
    case 'setWatts':
      tick(); // book the energy at the old power first
      for (const c of counters) if (c.spec.key === command.key) c.watts = command.watts;
      break;
    case 'pause':
      tick();
      paused = true;
      break;
    case 'resume':
      last = performance.now();
      paused = false;
      break;
    case 'snapshot':
      tick();
      break;
    case 'stop':
      tick();
      for (const c of counters) closeSync(c.fd);
      // Exit only once the reply is out: process.send is asynchronous, and exiting at
      // once could lose it, failing the caller's stop() with "writer exited".
      process.send!({ id: command.id, snapshot: snapshot() } satisfies WriterReply, () => process.exit(0));
      return;
  }
  send({ id: command.id, snapshot: snapshot() });
});

process.on('disconnect', () => process.exit(0));
