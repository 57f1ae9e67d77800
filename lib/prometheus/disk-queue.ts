// The durable remote-write queue: pending samples in segment files of a directory, so
// that a crash or a restart loses none that were written (the pusher's queueDir option).
//
// Format. A segment, NNNNNNNNNNNNNNNN.seg (a 16-digit sequence number), is an 8-byte magic
// then records: u32 payload length, u32 CRC-32 of the payload, the payload (little endian):
//   series: u8 1, u32 id, the labels as JSON [[name, value], ...]   (once per segment)
//   block:  u8 2, u32 rows, u32 series, u32 id per series, zero padding to a multiple of 8,
//           f64 timestamps[rows] (ms), then f64 values[rows] for each series in turn.
// A block is one push (one drain of the sampler): 8 bytes per sample plus 8 per row, so
// about 8.8 bytes a sample at 10 series. A segment is self-contained (its series
// records come before the blocks that use them), so deleting the oldest one never
// orphans a label set. Segments are only ever appended to by the run that created them:
// a restart starts a new one, so a record torn by a crash is always at the end of a
// segment that nobody writes any more.
//
// Durability. Each push is one write(2): in the page cache at once, so a killed process
// (kill -9, OOM killer, a crash) loses nothing it pushed. fdatasync runs at most about
// once a second, in the background, and when a segment is sealed and on close(): only a
// kernel crash or power loss can lose the last second or so, and the sampler's timer is
// never held up behind a disk flush (a flush per drain would cost a sync write per
// drain, for a guarantee a remote-write queue does not need: vmagent flushes its
// persistent queue once a second too).
//
// Delivery. The pusher tells done() about every request the receiver accepted (or
// rejected for good): the last timestamp done per series is kept in acked.json, written
// (write a temporary file, rename) after each request. Reading skips samples at or before
// that timestamp, so a restart re-sends nothing the receiver acknowledged; a segment is
// deleted once the reader is past it and the round that read it is committed. What can
// be sent twice is only a request the receiver stored but whose answer the crash
// prevented from reaching us (at least once): Prometheus then answers 400 (out of order)
// for that request, which is counted as failed and not retried; its samples were stored.
//
// Damage. A record with a bad length, a bad checksum, an unknown series or an impossible
// size ends the reading of its segment: the rest is skipped, counted (corruptSegments,
// corruptBytes), reported through onError, and reading goes on with the next segment.
// Nothing in a damaged file throws.
//
// Bounds. The files together stay within maxBytes (give or take one record): the oldest
// segment goes first, its unsent samples counted as dropped. A segment is a sixteenth of
// maxBytes (64 KiB to 8 MiB), so a drop loses about that much.
//
// Memory: only the block being read and the round in flight, never the whole queue.
import {
  closeSync,
  existsSync,
  fdatasync,
  fdatasyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { usageError } from '../errors.js';
import type { Label, SeriesColumns } from './prompb.js';
import { Gathering, type PendingSamples, type Series, type Taken } from './queue.js';

const MAGIC = Buffer.from('WMRWQ\u0000\u0000\u0001', 'latin1');
const HEADER = 8;
const SERIES_RECORD = 1;
const BLOCK_RECORD = 2;
const BLOCK_FIXED = 9; // type, rows, series
const MAX_RECORD = 1 << 30;
const SEGMENT_NAME = /^(\d{16})\.seg$/;
const SYNC_INTERVAL_MS = 1000;
const ACKED_FILE = 'acked.json';
const LOCK_FILE = 'lock';
export const MIN_QUEUE_BYTES = 64 * 1024;
/** The directories queues of this process hold (the lock file's pid cannot tell them apart). */
const LOCKED = new Set<string>();

export interface DiskQueueStats {
  /** Bytes of the segment files. */
  bytes: number;
  /** Segments whose reading stopped at damage (a torn or corrupt record). */
  corruptSegments: number;
  /** Bytes skipped in them. */
  corruptBytes: number;
  /** Samples read back from segments a previous run wrote. */
  replayed: number;
}

interface Segment {
  seq: number;
  file: string;
  bytes: number;
  /** Samples in the readable records (counted when written, or by a scan at start). */
  samples: number;
  /** Samples read (taken, skipped as already sent) or dropped. */
  consumed: number;
  /** The reader went past its end. */
  read: boolean;
}

interface Block {
  series: Series[];
  timestampsMs: Float64Array;
  values: Float64Array[];
  row: number;
}

interface Reader {
  segment: Segment;
  fd: number;
  offset: number;
  ids: Map<number, Series>;
  block: Block | undefined;
}

export class DiskQueue implements PendingSamples {
  readonly durable = true;
  readonly dir: string;
  #maxBytes: number;
  #segmentBytes: number;
  #onDamage: (message: string) => void;
  #segments: Segment[] = [];
  #firstSeqOfRun: number;
  #nextSeq: number;
  #pending = 0;
  #bytes = 0;
  #stats = { corruptSegments: 0, corruptBytes: 0, replayed: 0 };
  #writeFd: number | undefined;
  #writeIds = new Map<Series, number>();
  #lastSyncMs = Date.now();
  #syncing = false;
  #reader: Reader | undefined;
  #interned = new Map<string, Series>();
  #keys = new WeakMap<readonly Label[], string>();
  #acked = new Map<string, number>();
  #closed = false;

  constructor(dir: string, maxBytes: number, onDamage: (message: string) => void) {
    this.dir = path.resolve(dir);
    this.#maxBytes = maxBytes;
    this.#segmentBytes = Math.min(8 << 20, Math.max(64 << 10, Math.floor(maxBytes / 16)));
    this.#onDamage = onDamage;
    mkdirSync(this.dir, { recursive: true });
    this.#lock();
    this.#acked = readAcked(path.join(this.dir, ACKED_FILE));
    const seqs = readdirSync(this.dir)
      .map((name) => SEGMENT_NAME.exec(name)?.[1])
      .filter((seq): seq is string => seq !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    for (const seq of seqs) {
      const file = this.#file(seq);
      const bytes = statSync(file).size;
      const samples = countSamples(file, bytes);
      this.#segments.push({ seq, file, bytes, samples, consumed: 0, read: false });
      this.#pending += samples;
      this.#bytes += bytes;
    }
    this.#firstSeqOfRun = this.#nextSeq = (seqs.at(-1) ?? 0) + 1;
    this.#dropOldest();
  }

  get length(): number {
    return this.#pending;
  }

  stats(): DiskQueueStats {
    return { bytes: this.#bytes, ...this.#stats };
  }

  push(series: readonly Series[], timestampsMs: Float64Array, values: readonly Float64Array[]): number {
    const rows = timestampsMs.length;
    if (rows === 0 || series.length === 0 || this.#closed) return 0;
    const samples = rows * series.length;
    try {
      const fd = this.#writer();
      const records: Buffer[] = [];
      const ids = series.map((s) => {
        let id = this.#writeIds.get(s);
        if (id === undefined) {
          this.#writeIds.set(s, (id = this.#writeIds.size));
          records.push(seriesRecord(id, s.labels));
        }
        return id;
      });
      records.push(blockRecord(ids, timestampsMs, values));
      const bytes = Buffer.concat(records);
      for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at);
      const segment = this.#segments.at(-1)!;
      segment.bytes += bytes.length;
      segment.samples += samples;
      this.#bytes += bytes.length;
      this.#pending += samples;
      if (segment.bytes >= this.#segmentBytes) this.#seal();
      else this.#maybeSync(fd);
    } catch (error) {
      // ENOSPC, EIO...: what a partial write left is past segment.bytes, so never read.
      this.#seal();
      this.#onDamage(`cannot append to ${this.dir}: ${(error as Error).message}; ${samples} samples dropped`);
      return samples + this.#dropOldest();
    }
    return this.#dropOldest();
  }

  take(maxSamples: number): Taken {
    const request = new Gathering(maxSamples);
    for (let reader = this.#nextBlock(); reader; reader = this.#nextBlock()) {
      const block = reader.block!;
      const width = block.series.length;
      const rows = request.rowsFitting(width, block.timestampsMs.length - block.row);
      if (rows === 0) break;
      const end = block.row + rows;
      let taken = 0;
      block.series.forEach((s, i) => {
        // Rows a receiver already acknowledged before a restart are not sent again.
        const from = firstAfter(block.timestampsMs, this.#acked.get(this.#key(s.labels)) ?? -Infinity, block.row, end);
        if (from === end) return;
        request.add(s, block.timestampsMs.subarray(from, end), block.values[i].subarray(from, end));
        taken += end - from;
      });
      block.row = end;
      if (end === block.timestampsMs.length) reader.block = undefined;
      reader.segment.consumed += rows * width;
      this.#pending -= rows * width;
      if (reader.segment.seq < this.#firstSeqOfRun) this.#stats.replayed += taken;
    }
    return request.taken();
  }

  done(timeseries: readonly SeriesColumns[]): void {
    for (const { labels, samples } of timeseries) {
      const last = samples.at(-1)?.timestampsMs;
      if (!last || last.length === 0) continue;
      const key = this.#key(labels);
      this.#acked.set(key, Math.max(this.#acked.get(key) ?? -Infinity, last[last.length - 1]));
    }
    if (!this.#closed) this.#writeAcked();
  }

  commit(): void {
    while (this.#segments.length > 0 && this.#segments[0].read) this.#delete(this.#segments[0]);
  }

  close(): number {
    if (this.#closed) return 0;
    this.#seal();
    if (this.#reader) closeSync(this.#reader.fd);
    this.#reader = undefined;
    this.#writeAcked();
    this.#closed = true;
    unlinkSync(path.join(this.dir, LOCK_FILE));
    LOCKED.delete(this.dir);
    return 0;
  }

  // ------------------------------------------------------------------ writing

  #file(seq: number): string {
    return path.join(this.dir, `${String(seq).padStart(16, '0')}.seg`);
  }

  #writer(): number {
    if (this.#writeFd !== undefined) return this.#writeFd;
    const seq = this.#nextSeq++;
    const file = this.#file(seq);
    const fd = openSync(file, 'wx');
    writeSync(fd, MAGIC);
    this.#segments.push({ seq, file, bytes: MAGIC.length, samples: 0, consumed: 0, read: false });
    this.#bytes += MAGIC.length;
    this.#writeIds.clear();
    this.#writeFd = fd;
    return fd;
  }

  /** The segment written to, if any. */
  #writing(): Segment | undefined {
    return this.#writeFd === undefined ? undefined : this.#segments.at(-1);
  }

  #maybeSync(fd: number): void {
    const now = Date.now();
    if (this.#syncing || now - this.#lastSyncMs < SYNC_INTERVAL_MS) return;
    this.#syncing = true;
    this.#lastSyncMs = now;
    fdatasync(fd, () => {
      this.#syncing = false;
    });
  }

  /** Stops writing to the current segment: later pushes start a new one. */
  #seal(): void {
    const fd = this.#writeFd;
    if (fd === undefined) return;
    this.#writeFd = undefined;
    try {
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** Deletes the oldest segments while over the byte bound; returns the samples dropped. */
  #dropOldest(): number {
    let dropped = 0;
    while (this.#bytes > this.#maxBytes && this.#segments.length > 1) {
      const oldest = this.#segments[0];
      dropped += oldest.samples - oldest.consumed;
      this.#pending -= oldest.samples - oldest.consumed;
      this.#delete(oldest);
    }
    return dropped;
  }

  #delete(segment: Segment): void {
    if (this.#reader?.segment === segment) {
      closeSync(this.#reader.fd);
      this.#reader = undefined;
    }
    if (this.#writing() === segment) this.#seal();
    this.#segments.splice(this.#segments.indexOf(segment), 1);
    this.#bytes -= segment.bytes;
    unlinkSync(segment.file);
  }

  #writeAcked(): void {
    const file = path.join(this.dir, ACKED_FILE);
    writeFileSync(`${file}.tmp`, JSON.stringify(Object.fromEntries(this.#acked)));
    renameSync(`${file}.tmp`, file);
  }

  #lock(): void {
    const file = path.join(this.dir, LOCK_FILE);
    if (existsSync(file)) {
      const pid = Number(readFileSync(file, 'utf8'));
      if (Number.isInteger(pid) && pid > 0 && (pid === process.pid ? LOCKED.has(this.dir) : isAlive(pid))) {
        throw usageError(`remote write: the queue directory ${this.dir} is in use by process ${pid}; give each exporter its own.`);
      }
    }
    writeFileSync(file, String(process.pid)); // a lock left by a dead process is taken over
    LOCKED.add(this.dir);
  }

  // ------------------------------------------------------------------ reading

  /** The reader, on a block with rows left; undefined when everything written has been read. */
  #nextBlock(): Reader | undefined {
    for (;;) {
      const reader = this.#reader;
      if (!reader) {
        const next = this.#segments.find((s) => !s.read);
        if (!next) return undefined;
        this.#open(next);
        continue;
      }
      if (reader.block) return reader;
      const { segment, offset } = reader;
      if (offset === segment.bytes) {
        if (segment === this.#writing()) return undefined; // more may come
        this.#finish(reader);
        continue;
      }
      const damage = this.#readRecord(reader);
      if (damage) this.#damaged(reader, damage);
    }
  }

  #open(segment: Segment): void {
    const fd = openSync(segment.file, 'r');
    const reader: Reader = { segment, fd, offset: 0, ids: new Map(), block: undefined };
    this.#reader = reader;
    const magic = Buffer.alloc(MAGIC.length);
    if (segment.bytes < MAGIC.length || readSync(fd, magic, 0, MAGIC.length, 0) < MAGIC.length || !magic.equals(MAGIC)) {
      this.#damaged(reader, 'not a wattmeter queue segment (bad magic)');
    } else {
      reader.offset = MAGIC.length;
    }
  }

  #finish(reader: Reader): void {
    reader.segment.read = true;
    closeSync(reader.fd);
    this.#reader = undefined;
  }

  /** Reads the record at the reader's offset; returns what is wrong with it, if anything. */
  #readRecord(reader: Reader): string | undefined {
    const { segment, fd, offset } = reader;
    if (offset + HEADER > segment.bytes) return 'truncated record header';
    const header = Buffer.alloc(HEADER);
    readSync(fd, header, 0, HEADER, offset);
    const length = header.readUInt32LE(0);
    if (length < 5 || length > MAX_RECORD || offset + HEADER + length > segment.bytes) return `bad or truncated record length ${length}`;
    // Its own ArrayBuffer, at offset 0: the Float64Array views below are aligned.
    const record = Buffer.allocUnsafeSlow(HEADER + length);
    if (readSync(fd, record, 0, record.length, offset) < record.length) return 'short read';
    const payload = record.subarray(HEADER);
    if (crc32(payload) !== header.readUInt32LE(4)) return 'checksum mismatch';
    const type = payload[0];
    if (type === SERIES_RECORD) {
      let labels: Label[];
      try {
        const pairs = JSON.parse(payload.subarray(5).toString('utf8')) as [string, string][];
        labels = pairs.map(([name, value]) => ({ name: String(name), value: String(value) }));
      } catch {
        return 'unreadable series record';
      }
      reader.ids.set(payload.readUInt32LE(1), this.#intern(labels));
    } else if (type === BLOCK_RECORD && length >= BLOCK_FIXED) {
      const rows = payload.readUInt32LE(1);
      const width = payload.readUInt32LE(5);
      const start = align8(HEADER + BLOCK_FIXED + 4 * width);
      if (start + 8 * rows * (1 + width) !== record.length) return 'block size does not add up';
      const series: Series[] = [];
      for (let i = 0; i < width; i++) {
        const s = reader.ids.get(payload.readUInt32LE(BLOCK_FIXED + 4 * i));
        if (!s) return 'block of an unknown series';
        series.push(s);
      }
      const columns = (k: number) => float64s(record, start + 8 * rows * k, rows);
      reader.block = { series, timestampsMs: columns(0), values: series.map((_, i) => columns(i + 1)), row: 0 };
    } else {
      return `unknown record type ${type}`;
    }
    reader.offset = offset + HEADER + length;
    return undefined;
  }

  #damaged(reader: Reader, reason: string): void {
    const { segment, offset } = reader;
    const skipped = segment.bytes - offset;
    this.#stats.corruptSegments++;
    this.#stats.corruptBytes += skipped;
    this.#pending -= segment.samples - segment.consumed;
    segment.consumed = segment.samples;
    reader.block = undefined;
    if (segment === this.#writing()) this.#seal();
    this.#finish(reader);
    this.#onDamage(`remote write queue: ${segment.file}: ${reason} at byte ${offset}; skipped the rest of the segment (${skipped} bytes)`);
  }

  // ------------------------------------------------------------------ series

  #key(labels: readonly Label[]): string {
    let key = this.#keys.get(labels);
    if (key === undefined) this.#keys.set(labels, (key = JSON.stringify(labels.map((l) => [l.name, l.value]))));
    return key;
  }

  /** One Series object per label set, whichever segment it was read from. */
  #intern(labels: Label[]): Series {
    const key = this.#key(labels);
    let series = this.#interned.get(key);
    if (!series) this.#interned.set(key, (series = { labels }));
    return series;
  }
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

const LITTLE_ENDIAN = new Uint8Array(Float64Array.of(1).buffer)[7] === 0x3f;

/** count f64s at byteOffset of record (which starts its own ArrayBuffer): a view where possible. */
function float64s(record: Buffer, byteOffset: number, count: number): Float64Array {
  if (LITTLE_ENDIAN) return new Float64Array(record.buffer, record.byteOffset + byteOffset, count);
  return Float64Array.from({ length: count }, (_, i) => record.readDoubleLE(byteOffset + 8 * i));
}

function record(payload: Buffer): Buffer {
  const header = Buffer.alloc(HEADER);
  header.writeUInt32LE(payload.length, 0);
  header.writeUInt32LE(crc32(payload), 4);
  return Buffer.concat([header, payload]);
}

function seriesRecord(id: number, labels: readonly Label[]): Buffer {
  const json = Buffer.from(JSON.stringify(labels.map((l) => [l.name, l.value])), 'utf8');
  const payload = Buffer.alloc(5 + json.length);
  payload[0] = SERIES_RECORD;
  payload.writeUInt32LE(id, 1);
  json.copy(payload, 5);
  return record(payload);
}

function blockRecord(ids: readonly number[], timestampsMs: Float64Array, values: readonly Float64Array[]): Buffer {
  const rows = timestampsMs.length;
  const start = align8(HEADER + BLOCK_FIXED + 4 * ids.length);
  const out = Buffer.alloc(start + 8 * rows * (1 + ids.length));
  const payload = out.subarray(HEADER);
  payload[0] = BLOCK_RECORD;
  payload.writeUInt32LE(rows, 1);
  payload.writeUInt32LE(ids.length, 5);
  ids.forEach((id, i) => payload.writeUInt32LE(id, BLOCK_FIXED + 4 * i));
  [timestampsMs, ...values].forEach((column, k) => {
    const at = start + 8 * rows * k;
    if (LITTLE_ENDIAN && (out.byteOffset + at) % 8 === 0) new Float64Array(out.buffer, out.byteOffset + at, rows).set(column.subarray(0, rows));
    else for (let i = 0; i < rows; i++) out.writeDoubleLE(column[i], at + 8 * i);
  });
  out.writeUInt32LE(payload.length, 0);
  out.writeUInt32LE(crc32(payload), 4);
  return out;
}

/** Samples in the blocks of a segment file whose headers can be read (a scan, no checksums). */
function countSamples(file: string, bytes: number): number {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(HEADER + BLOCK_FIXED);
    let samples = 0;
    for (let offset = MAGIC.length; offset + head.length <= bytes; ) {
      readSync(fd, head, 0, head.length, offset);
      const length = head.readUInt32LE(0);
      if (length < 5 || offset + HEADER + length > bytes) break;
      if (head[HEADER] === BLOCK_RECORD) samples += head.readUInt32LE(HEADER + 1) * head.readUInt32LE(HEADER + 5);
      offset += HEADER + length;
    }
    return samples;
  } finally {
    closeSync(fd);
  }
}

/** The first index in [from, end) whose timestamp is after afterMs (end if none); timestamps rise. */
function firstAfter(timestampsMs: Float64Array, afterMs: number, from: number, end: number): number {
  if (timestampsMs[from] > afterMs) return from;
  if (timestampsMs[end - 1] <= afterMs) return end;
  let [lo, hi] = [from, end - 1];
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (timestampsMs[mid] > afterMs) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function readAcked(file: string): Map<string, number> {
  try {
    const entries = Object.entries(JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>);
    return new Map(entries.filter((e): e is [string, number] => typeof e[1] === 'number'));
  } catch {
    return new Map(); // none yet, or torn: at worst a request is sent again
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
