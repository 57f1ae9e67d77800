// Prometheus keeps at most one sample per series per millisecond: text-format and remote
// write timestamps are integer milliseconds, and a second sample at the same millisecond
// with another value is rejected as a duplicate. So the timestamped exporters (multirate,
// remote write) fold the ticks of each millisecond into one sample: the last tick of the
// millisecond, whose cumulative energy already contains the others. Nothing is lost; only
// the time resolution is capped at 1 ms (RAPL itself updates about every 1 ms).
import type { Batch, Domain } from '../batch.js';

export interface Folded {
  /** Integer ms since the epoch (the millisecond the sample's tick fell in), strictly rising. */
  readonly timestampsMs: Float64Array;
  /** Per domain: joules since the folder's first tick. */
  readonly energyJ: readonly Float64Array[];
  /** Per domain: mean watts between the previous folded sample's tick and this one's. */
  readonly powerW: readonly Float64Array[];
  readonly length: number;
}

export class MillisecondFolder {
  readonly domains: readonly Domain[];
  // The first tick ever seen: the zero of every energy counter, never emitted itself.
  #baseUj: Float64Array | undefined;
  // The tick behind the last emitted sample, with its exact (sub-ms) time, for power.
  #prevMs = NaN;
  #prevUj: Float64Array;
  // The latest tick, held back until a tick of a later millisecond proves that its
  // millisecond is complete: emitting it earlier could emit that millisecond twice with
  // different values, which Prometheus rejects.
  #pendingMs = NaN;
  #pendingUj: Float64Array;

  constructor(domains: readonly Domain[]) {
    this.domains = domains;
    this.#prevUj = new Float64Array(domains.length);
    this.#pendingUj = new Float64Array(domains.length);
  }

  /** Folds a batch; returns the samples of every millisecond now complete. */
  push(batch: Batch): Folded {
    const out = allocate(this.domains.length, batch.length);
    let n = 0;
    for (let i = 0; i < batch.length; i++) {
      const t = batch.timestampsMs[i];
      if (this.#baseUj === undefined) {
        this.#baseUj = Float64Array.from(batch.energyUj, (column) => column[i]);
        this.#prevMs = t;
        this.#prevUj.set(this.#baseUj);
        continue;
      }
      if (Math.floor(t) > Math.floor(this.#pendingMs)) n = this.#emit(out, n);
      this.#pendingMs = t;
      for (let d = 0; d < batch.energyUj.length; d++) this.#pendingUj[d] = batch.energyUj[d][i];
    }
    return trim(out, n);
  }

  /** Emits the held-back millisecond too: call it only when no more ticks will come. */
  flush(): Folded {
    const out = allocate(this.domains.length, 1);
    return trim(out, this.#emit(out, 0));
  }

  #emit(out: Folded, n: number): number {
    if (Number.isNaN(this.#pendingMs)) return n;
    const dtMs = this.#pendingMs - this.#prevMs;
    out.timestampsMs[n] = Math.floor(this.#pendingMs);
    for (let d = 0; d < this.domains.length; d++) {
      out.energyJ[d][n] = (this.#pendingUj[d] - this.#baseUj![d]) / 1e6;
      out.powerW[d][n] = (this.#pendingUj[d] - this.#prevUj[d]) / (dtMs * 1000);
    }
    this.#prevMs = this.#pendingMs;
    this.#prevUj.set(this.#pendingUj);
    this.#pendingMs = NaN;
    return n + 1;
  }
}

function allocate(domains: number, capacity: number): Folded {
  const column = () => new Float64Array(capacity);
  return {
    timestampsMs: column(),
    energyJ: Array.from({ length: domains }, column),
    powerW: Array.from({ length: domains }, column),
    length: capacity,
  };
}

function trim(folded: Folded, length: number): Folded {
  return {
    timestampsMs: folded.timestampsMs.subarray(0, length),
    energyJ: folded.energyJ.map((c) => c.subarray(0, length)),
    powerW: folded.powerW.map((c) => c.subarray(0, length)),
    length,
  };
}

/** The folder returns views of larger arrays: a copy keeps only what they show. */
export function copyFolded(folded: Folded): Folded {
  return {
    timestampsMs: folded.timestampsMs.slice(),
    energyJ: folded.energyJ.map((c) => c.slice()),
    powerW: folded.powerW.map((c) => c.slice()),
    length: folded.length,
  };
}
