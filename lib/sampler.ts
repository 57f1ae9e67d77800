// The friendly face of the native sampler thread: options with defaults, clear errors,
// bulk drains as Batch columns, stats in user units, and an async iterator of batches.
import { setTimeout as sleep } from 'node:timers/promises';
import { batchFromColumns, type Batch, type Domain } from './batch.js';
import { explainNativeError } from './errors.js';
import { addon, type NativeSampler, type SourceKind } from './native.js';
import { resolveSamplerOptions, type SamplerOptions } from './options.js';
import { dropPrivileges } from './privileges.js';
import { samplerStats, type SamplerStats } from './stats.js';

export type { SamplerStats };

export interface BatchesOptions {
  /** How often to drain, in ms (default 1000). */
  intervalMs?: number;
  /** Stop iterating when this signal aborts. */
  signal?: AbortSignal;
}

export class Sampler {
  readonly source: SourceKind;
  readonly domains: readonly Domain[];
  /** Why `auto` passed over each real source it could not use. */
  readonly warnings: readonly string[];
  readonly rateHz: number;
  readonly capacity: number;
  #native: NativeSampler | undefined;

  constructor(options: SamplerOptions = {}) {
    const resolved = resolveSamplerOptions(options);
    try {
      this.#native = new (addon().Sampler)(resolved);
    } catch (error) {
      throw explainNativeError(error);
    }
    this.source = this.#native.source;
    this.domains = Object.freeze(this.#native.domains);
    this.warnings = this.#native.warnings;
    this.rateHz = resolved.rateHz;
    this.capacity = resolved.capacity;
    if (options.user) {
      try {
        dropPrivileges(options.user);
      } catch (error) {
        this.close();
        throw error;
      }
    }
  }

  get closed(): boolean {
    return this.#native === undefined;
  }

  #open(): NativeSampler {
    if (!this.#native) throw new Error('wattmeter: this sampler is closed');
    return this.#native;
  }

  start(): this {
    this.#open().start();
    return this;
  }

  stop(): this {
    this.#open().stop();
    return this;
  }

  /** Stops the thread and frees the ring; ticks not drained are lost. Safe to call twice. */
  close(): void {
    this.#native?.close();
    this.#native = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** Moves every tick recorded since the last drain (at most maxTicks) out of the ring. */
  drain(maxTicks?: number): Batch {
    return batchFromColumns(this.domains, this.#open().drain(maxTicks));
  }

  /**
   * Now, in ms since the epoch, on the clock the ticks are stamped with (CLOCK_MONOTONIC
   * plus the wall-clock offset taken when the sampler opened): use it to place your own
   * events among the ticks; Date.now() may have been stepped or slewed since.
   */
  nowMs(): number {
    return this.#open().nowMs();
  }

  stats(): SamplerStats {
    return samplerStats(this.#open().stats(), this.rateHz, this.domains);
  }

  /**
   * Drains every `intervalMs` and yields each non-empty batch, until the sampler is
   * closed, the signal aborts or the loop breaks. Starts the sampler if needed.
   */
  async *batches({ intervalMs = 1000, signal }: BatchesOptions = {}): AsyncGenerator<Batch> {
    if (!this.#open().stats().running) this.start();
    while (!this.closed && !signal?.aborted) {
      try {
        await sleep(intervalMs, undefined, { signal });
      } catch {
        // aborted: fall through and yield what is left
      }
      if (this.closed) return;
      const batch = this.drain();
      if (batch.length > 0) yield batch;
    }
  }
}

/** Opens the counters and prepares the sampler thread (not started yet). */
export function openSampler(options: SamplerOptions = {}): Sampler {
  return new Sampler(options);
}
