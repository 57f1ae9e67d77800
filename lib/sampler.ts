// The friendly face of the native sampler thread: options with defaults, clear errors,
// bulk drains as Batch columns, stats in user units, and the fan-out of its ticks.
//
// The ring has one consumer, so the sampler is also the only way to its ticks: every
// drain hands what it moved to every subscriber, in order, whoever called it. Exporters,
// meters and batches() each subscribe and each get every tick; none can take ticks from
// another. One timer pumps, at the shortest delay any subscriber asked for.
import { setTimeout as sleep } from 'node:timers/promises';
import { SamplerAttribution } from './attribution/tracker.js';
import type { Attribution } from './attribution/types.js';
import { batchFromColumns, concatBatches, type Batch, type Domain } from './batch.js';
import { WattmeterError, explainNativeError, usageError } from './errors.js';
import { addon, type NativeSampler, type SourceKind } from './native.js';
import { optionNames, resolveAttributionOptions, resolveSamplerOptions, type SamplerOptions } from './options.js';
import { dropPrivileges } from './privileges.js';
import { Slab } from './slab.js';
import { samplerStats, type SamplerStats } from './stats.js';

export type { SamplerStats };

export type BatchListener = (batch: Batch) => void;

export interface SubscribeOptions {
  /** Ticks reach this listener at most this many ms after they are recorded (default 100). */
  maxDelayMs?: number;
}

export interface HoldOptions {
  /** When the hold started the sampler, it stops this long after the last release (default 0). */
  lingerMs?: number;
}

export type FollowOptions = SubscribeOptions & HoldOptions;

/** The delay a subscriber gets unless it asks: well within the ring's 10 s. */
const DEFAULT_MAX_DELAY_MS = 100;

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
  /** Energy attributed to processes and cgroups; present when an attribution option is set. */
  readonly attribution: Attribution | undefined;
  #attribution: SamplerAttribution | undefined;
  #native: NativeSampler | undefined;
  #listeners = new Map<BatchListener, number>(); // each listener and its maxDelayMs
  #pumpTimer: NodeJS.Timeout | undefined;
  #pumpEveryMs = Infinity;
  #pumping = false;
  #holds = 0;
  #startedByHold = false;
  #lingerTimer: NodeJS.Timeout | undefined;
  #overflowed = 0; // ticks batches() let go because its consumer fell a ring behind
  readonly #slab: Slab;

  constructor(options: SamplerOptions = {}) {
    const resolved = resolveSamplerOptions(options);
    const attribution = resolveAttributionOptions(options);
    try {
      this.#native = new (addon().Sampler)(resolved);
    } catch (error) {
      throw explainNativeError(error, optionNames(options));
    }
    this.source = this.#native.source;
    this.domains = Object.freeze(this.#native.domains);
    this.warnings = this.#native.warnings;
    this.rateHz = resolved.rateHz;
    this.capacity = resolved.capacity;
    this.#slab = new Slab(this.rateHz * (1 + this.domains.length));
    try {
      // Before dropping privileges: the CPU-time files are opened here, as the counters are.
      if (attribution) {
        this.#attribution = new SamplerAttribution(this.#native, this.domains, attribution, addon().CLOCK_TICKS_PER_SECOND, this.#native.nowMs());
      }
      if (options.user) dropPrivileges(options.user);
    } catch (error) {
      this.close();
      throw error instanceof WattmeterError ? error : explainNativeError(error);
    }
    this.attribution = this.#attribution;
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
    clearInterval(this.#pumpTimer);
    clearTimeout(this.#lingerTimer);
    this.#listeners.clear();
    this.#pumpEveryMs = Infinity;
    this.#holds = 0;
    this.#native?.close();
    this.#native = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Moves the ticks waiting in the ring (at most maxTicks) out of it, hands them to every
   * subscriber and returns them. With subscribers, the timer drains too: subscribe to see
   * every tick. A drain from inside a listener returns nothing (its ticks are on their way).
   */
  drain(maxTicks?: number): Batch {
    const native = this.#open();
    if (maxTicks !== undefined && !(typeof maxTicks === 'number' && maxTicks >= 0)) {
      throw usageError(`drain(maxTicks): maxTicks must be a number of ticks, 0 or more; got ${String(maxTicks)}.`);
    }
    if (this.#pumping) return batchFromColumns(this.domains, new Float64Array(0));
    const stride = 1 + this.domains.length;
    const columns = this.#slab.take(Math.min(native.pending(), Math.floor(maxTicks ?? Infinity)) * stride);
    let batch = batchFromColumns(this.domains, columns.subarray(0, native.drain(columns) * stride));
    if (batch.length === 0) return batch;
    const attribution = this.#attribution?.ingest(batch, native.nowMs());
    if (attribution) batch = { ...batch, attribution };
    // Every subscriber gets the batch even if one throws; the first error is thrown after.
    const errors: unknown[] = [];
    this.#pumping = true;
    for (const listener of [...this.#listeners.keys()]) {
      try {
        listener(batch);
      } catch (error) {
        errors.push(error);
      }
    }
    this.#pumping = false;
    if (errors.length > 0) throw errors[0];
    return batch;
  }

  /**
   * Calls `listener` with every tick drained from now on, in order, until the returned
   * function is called. The sampler drains itself at least every maxDelayMs while anyone
   * listens; it does not start itself (see start() and hold()).
   */
  subscribe(listener: BatchListener, { maxDelayMs = DEFAULT_MAX_DELAY_MS }: SubscribeOptions = {}): () => void {
    this.#open();
    if (!(maxDelayMs > 0 && maxDelayMs < 2 ** 31)) throw usageError(`maxDelayMs must be a number of milliseconds above 0; got ${maxDelayMs}.`);
    this.#listeners.set(listener, maxDelayMs);
    this.#schedulePump();
    return () => {
      if (this.#listeners.delete(listener)) this.#schedulePump();
    };
  }

  #schedulePump(): void {
    const everyMs = Math.min(...this.#listeners.values());
    if (everyMs === this.#pumpEveryMs) return;
    clearInterval(this.#pumpTimer);
    this.#pumpEveryMs = everyMs;
    this.#pumpTimer = Number.isFinite(everyMs) ? setInterval(() => this.closed || this.drain(), everyMs) : undefined;
    this.#refPump();
  }

  // A held sampler keeps the process alive, as the server of an exporter would; otherwise
  // the timer must not, or a forgotten subscriber would keep a program from ending.
  #refPump(): void {
    if (this.#holds > 0) this.#pumpTimer?.ref();
    else this.#pumpTimer?.unref();
  }

  /**
   * Keeps the sampler running until the returned release is called, starting it if it is
   * not running. A sampler a hold started stops again lingerMs after the last release,
   * once its last ticks are drained to the subscribers.
   */
  hold({ lingerMs = 0 }: HoldOptions = {}): () => void {
    const native = this.#open();
    clearTimeout(this.#lingerTimer);
    if (this.#holds++ === 0 && !native.stats().running) {
      native.start();
      this.#startedByHold = true;
    }
    this.#refPump();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holds--;
      this.#refPump();
      if (this.#holds > 0 || !this.#startedByHold) return;
      this.#lingerTimer = setTimeout(() => this.#idle(), lingerMs).unref();
    };
  }

  /**
   * subscribe() and hold() together, what a consumer that needs the ticks flowing does;
   * the returned function undoes both.
   */
  follow(listener: BatchListener, options: FollowOptions = {}): () => void {
    const unsubscribe = this.subscribe(listener, options); // checks maxDelayMs before holding
    const release = this.hold(options);
    return () => {
      release();
      unsubscribe();
    };
  }

  #idle(): void {
    if (this.#holds > 0 || this.closed) return;
    this.#startedByHold = false;
    this.stop();
    if (this.#listeners.size > 0) this.drain();
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
    const stats = samplerStats(this.#open().stats(), this.rateHz, this.domains);
    stats.dropped += this.#overflowed;
    return stats;
  }

  /**
   * Yields every tick, joined into one batch per `intervalMs` (none when there was no
   * tick), until the sampler is closed, the signal aborts or the loop breaks. A subscriber
   * like any other; holds the sampler running meanwhile (see hold()). A consumer that
   * falls behind by more than the ring's capacity loses the oldest ticks beyond it, as a
   * full ring would, counted in stats().dropped.
   */
  async *batches({ intervalMs = 1000, signal }: BatchesOptions = {}): AsyncGenerator<Batch> {
    let pending: Batch[] = [];
    let waiting = 0;
    const stop = this.follow(
      (batch) => {
        pending.push(batch);
        waiting += batch.length;
        while (waiting - pending[0].length >= this.capacity) {
          this.#overflowed += pending[0].length;
          waiting -= pending.shift()!.length;
        }
      },
      { maxDelayMs: intervalMs },
    );
    try {
      while (!this.closed && !signal?.aborted) {
        try {
          await sleep(intervalMs, undefined, { signal });
        } catch {
          // aborted: fall through and yield what is left
        }
        if (this.closed) return;
        this.drain();
        if (pending.length === 0) continue;
        const batch = concatBatches(pending);
        pending = [];
        waiting = 0;
        yield batch;
      }
    } finally {
      stop();
    }
  }
}

/** Opens the counters and prepares the sampler thread (not started yet). */
export function openSampler(options: SamplerOptions = {}): Sampler {
  return new Sampler(options);
}
