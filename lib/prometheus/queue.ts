// The remote-write queue: samples waiting to be sent. PendingSamples is what the pusher
// needs of one; SampleQueue keeps them in memory, bounded in samples (DiskQueue,
// disk-queue.ts, in files, bounded in bytes). It keeps everything while the receiver is
// away and drops the oldest rows only when full. Samples are stored as blocks of columns
// (one drain's worth: shared timestamps, one value column per series), so a queue of
// millions of samples is a few hundred arrays.
import type { Label, SampleColumns, SeriesColumns } from './prompb.js';

/** One series; the same object stands for the same series in every block. */
export interface Series {
  readonly labels: Label[];
}

interface Block {
  series: readonly Series[];
  timestampsMs: Float64Array;
  values: readonly Float64Array[];
  /** First row not yet taken or dropped. */
  start: number;
}

/** Samples taken from the queue: one request's worth, in time order per series (views, no copies). */
export interface Taken {
  timeseries: SeriesColumns[];
  samples: number;
}

/** One request's samples as a queue takes them from its blocks, front first, per series. */
export class Gathering {
  readonly #maxSamples: number;
  readonly #bySeries = new Map<Series, { labels: readonly Label[]; samples: SampleColumns[] }>();
  #samples = 0;

  constructor(maxSamples: number) {
    this.#maxSamples = maxSamples;
  }

  /** Rows of a block `width` series wide that still fit, of `available`: one at least in an empty request. */
  rowsFitting(width: number, available: number): number {
    const room = Math.floor((this.#maxSamples - this.#samples) / width);
    return Math.min(available, this.#samples === 0 ? Math.max(room, 1) : room);
  }

  add(series: Series, timestampsMs: Float64Array, values: Float64Array): void {
    let out = this.#bySeries.get(series);
    if (!out) this.#bySeries.set(series, (out = { labels: series.labels, samples: [] }));
    out.samples.push({ timestampsMs, values });
    this.#samples += timestampsMs.length;
  }

  taken(): Taken {
    return { timeseries: [...this.#bySeries.values()], samples: this.#samples };
  }
}

/**
 * A FIFO of samples between push() and the receiver. The pusher takes a round of samples,
 * sends it, tells done() about each request it is finished with (accepted, or rejected
 * for good), then commit()s the round.
 */
export interface PendingSamples {
  /** Samples waiting, not yet taken. */
  readonly length: number;
  /** True when what is taken but not done survives close() (it is sent again on the next start). */
  readonly durable: boolean;
  /** Adds rows; returns how many samples were dropped, oldest first, to stay within bounds. */
  push(series: readonly Series[], timestampsMs: Float64Array, values: readonly Float64Array[]): number;
  /** Removes up to maxSamples (at least one row) from the front, merged per series. */
  take(maxSamples: number): Taken;
  /** These samples need not be sent again: the receiver accepted them, or rejected them for good. */
  done(timeseries: readonly SeriesColumns[]): void;
  /** Everything taken so far is done. */
  commit(): void;
  /** Releases the queue; returns the samples it gives up (those a durable queue keeps: 0). */
  close(): number;
}

export class SampleQueue implements PendingSamples {
  readonly durable = false;
  readonly capacity: number;
  #blocks: Block[] = [];
  #length = 0;

  constructor(capacitySamples: number) {
    this.capacity = capacitySamples;
  }

  /** Samples waiting. */
  get length(): number {
    return this.#length;
  }

  /**
   * Adds rows (timestampsMs[i], values[s][i] for each series s); returns how many samples
   * were dropped, oldest first, to stay within capacity.
   */
  push(series: readonly Series[], timestampsMs: Float64Array, values: readonly Float64Array[]): number {
    if (timestampsMs.length === 0 || series.length === 0) return 0;
    this.#blocks.push({ series, timestampsMs, values, start: 0 });
    this.#length += series.length * timestampsMs.length;
    let dropped = 0;
    while (this.#length > this.capacity) {
      const block = this.#blocks[0];
      const rows = Math.min(block.timestampsMs.length - block.start, Math.ceil((this.#length - this.capacity) / block.series.length));
      dropped += this.#advance(block, rows);
    }
    return dropped;
  }

  /** Removes up to maxSamples (at least one row) from the front, merged per series. */
  take(maxSamples: number): Taken {
    const request = new Gathering(maxSamples);
    while (this.#blocks.length > 0) {
      const block = this.#blocks[0];
      const rows = request.rowsFitting(block.series.length, block.timestampsMs.length - block.start);
      if (rows === 0) break;
      const timestampsMs = block.timestampsMs.subarray(block.start, block.start + rows);
      block.series.forEach((s, i) => request.add(s, timestampsMs, block.values[i].subarray(block.start, block.start + rows)));
      this.#advance(block, rows);
    }
    return request.taken();
  }

  done(): void {}

  commit(): void {}

  close(): number {
    return this.clear();
  }

  /** Empties the queue; returns the samples it held. */
  clear(): number {
    const samples = this.#length;
    this.#blocks = [];
    this.#length = 0;
    return samples;
  }

  #advance(block: Block, rows: number): number {
    block.start += rows;
    if (block.start === block.timestampsMs.length) this.#blocks.shift();
    const samples = rows * block.series.length;
    this.#length -= samples;
    return samples;
  }
}
