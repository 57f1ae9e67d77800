// Turns the CPU-time records (native/cputime.h) and the energy ticks of the same drains
// into attributed intervals: one interval per round of CPU-time reads, its measured
// energy the counters interpolated at the round's instant, split by split.ts. Knows
// nothing of files or options; the tracker tells it which slot is which consumer.
import { energyAt, exclusiveBusyInto, splitEnergyInto } from './split.js';
import type { AttributedIntervals, AttributionTotals, BatchAttribution, Consumer, ConsumerKind } from './types.js';

/** The slots of the records that close a round (native/cputime.h). */
export const PROCESS_ROUND_SLOT = -1;
export const CGROUP_ROUND_SLOT = -2;

/** The energy ticks of one drain: the columns of a Batch. */
export interface EnergyColumns {
  readonly timestampsMs: Float64Array;
  readonly energyUj: readonly Float64Array[];
}

interface SlotState {
  consumer: Consumer;
  parentSlot: number;
  first: number; // the baseline reading; NaN until it comes
  last: number;
  energyUj: Float64Array;
  cpuSeconds: number;
  busyRound: number; // the last round it was busy in, and where among that round's busy slots
  busyAt: number;
}

/** Ticks kept from earlier drains, for rounds stamped before a drain's first tick. */
const TICK_HISTORY = 256;

/** A growable column of numbers: the work per round allocates nothing. */
class Column<T extends Float64Array | Uint32Array> {
  data: T;
  length = 0;
  constructor(readonly make: (n: number) => T) {
    this.data = make(64);
  }
  push(value: number): void {
    if (this.length === this.data.length) this.#grow(this.length + 1);
    this.data[this.length++] = value;
  }
  /** Room for `n` values at data[0..n) (contents kept). */
  reserve(n: number): T {
    if (n > this.data.length) this.#grow(n);
    return this.data;
  }
  /** Removes the first `n` values. */
  shift(n: number): void {
    this.data.copyWithin(0, n, this.length);
    this.length -= n;
  }
  /** The values as a new array of their own; the column is emptied. */
  take(): T {
    const out = this.data.slice(0, this.length) as T;
    this.length = 0;
    return out;
  }
  #grow(n: number): void {
    const grown = this.make(Math.max(n, 2 * this.data.length));
    grown.set(this.data.subarray(0, this.length));
    this.data = grown;
  }
}
const floats = () => new Column((n) => new Float64Array(n));
const uints = () => new Column((n) => new Uint32Array(n));

/** One kind of consumer: its slots, the rounds waiting for energy ticks, its running totals and its output. */
class View {
  readonly kind: ConsumerKind;
  readonly unitsPerSecond: number;
  readonly bySlot: (SlotState | undefined)[] = [];
  // Rounds waiting for a tick at or after them: time, system value, end of their records.
  readonly roundMs = floats();
  readonly roundSystem = floats();
  readonly roundEnd = uints();
  readonly recordSlot = floats();
  readonly recordValue = floats();
  lastSystem = NaN;
  lastEnergyUj: Float64Array;
  energyUj: Float64Array; // at the round being attributed
  lastMs = NaN;
  rounds = 0;
  readonly measuredUj: Float64Array;
  readonly unattributedUj: Float64Array;
  // The round being attributed: its busy slots, their busy time, own time, parents and parts.
  busySlots: SlotState[] = [];
  readonly busy = floats();
  readonly own = floats();
  readonly parents = floats();
  readonly parts = floats();
  // This drain's output columns.
  readonly endMs = floats();
  readonly outMeasuredUj: Column<Float64Array>[];
  readonly outUnattributedUj: Column<Float64Array>[];
  readonly rowInterval = uints();
  readonly rowConsumer = uints();
  readonly rowEnergyUj: Column<Float64Array>[];
  readonly rowCpuSeconds = floats();

  constructor(kind: ConsumerKind, unitsPerSecond: number, domains: number) {
    this.kind = kind;
    this.unitsPerSecond = unitsPerSecond;
    this.lastEnergyUj = new Float64Array(domains);
    this.energyUj = new Float64Array(domains);
    this.measuredUj = new Float64Array(domains);
    this.unattributedUj = new Float64Array(domains);
    this.outMeasuredUj = Array.from({ length: domains }, floats);
    this.outUnattributedUj = Array.from({ length: domains }, floats);
    this.rowEnergyUj = Array.from({ length: domains }, floats);
  }
}

export class Attributor {
  readonly consumers: Consumer[] = [];
  readonly #states: SlotState[] = []; // by consumer index, ended ones too
  readonly #domains: readonly number[];
  readonly #domainNames: readonly string[];
  readonly #views = new Map<number, View>(); // by the slot that closes its rounds
  readonly #onEnded: (slot: number, consumer: Consumer) => void;
  readonly #ticksMs = floats();
  readonly #ticksUj: Column<Float64Array>[];

  /**
   * `domains`: the indices of the batch's domains to attribute, named `domainNames`.
   * `clockTicksPerSecond` converts process CPU times; cgroups count in ns.
   */
  constructor(options: {
    domains: readonly number[];
    domainNames: readonly string[];
    processes: boolean;
    cgroups: boolean;
    clockTicksPerSecond: number;
    onEnded?: (slot: number, consumer: Consumer) => void;
  }) {
    this.#domains = options.domains;
    this.#domainNames = options.domainNames;
    this.#onEnded = options.onEnded ?? (() => {});
    const n = options.domains.length;
    if (options.processes) this.#views.set(PROCESS_ROUND_SLOT, new View('process', options.clockTicksPerSecond, n));
    if (options.cgroups) this.#views.set(CGROUP_ROUND_SLOT, new View('cgroup', 1e9, n));
    this.#ticksUj = options.domains.map(floats);
  }

  /** Names a slot: its records count for `consumer` from its first one on. */
  addConsumer(slot: number, consumer: Omit<Consumer, 'index'>, parentSlot = -1): Consumer {
    const view = this.#viewOf(consumer.kind);
    const full: Consumer = { ...consumer, index: this.consumers.length };
    const state: SlotState = {
      consumer: full,
      parentSlot,
      first: NaN,
      last: NaN,
      energyUj: new Float64Array(this.#domains.length),
      cpuSeconds: 0,
      busyRound: -1,
      busyAt: 0,
    };
    this.consumers.push(full);
    this.#states.push(state);
    view.bySlot[slot] = state;
    return full;
  }

  /** Stops counting a slot (its consumer is gone): it ends at `timeMs`. */
  endSlot(kind: ConsumerKind, slot: number, timeMs: number): void {
    const view = this.#viewOf(kind);
    const state = view.bySlot[slot];
    if (!state) return;
    view.bySlot[slot] = undefined;
    if (Number.isNaN(state.consumer.endedMs)) state.consumer.endedMs = timeMs;
  }

  #viewOf(kind: ConsumerKind): View {
    const view = this.#views.get(kind === 'process' ? PROCESS_ROUND_SLOT : CGROUP_ROUND_SLOT);
    if (!view) throw new Error(`attribution: ${kind}es are not tracked`);
    return view;
  }

  /**
   * Takes one drain's energy ticks and CPU-time records; returns the intervals whose end
   * now has an energy tick at or after it (the rest wait for the next drain).
   */
  ingest(energy: EnergyColumns, cpu: Float64Array): BatchAttribution | undefined {
    this.#addTicks(energy);
    this.#addRounds(cpu);
    const result: { consumers: readonly Consumer[]; processes?: AttributedIntervals; cgroups?: AttributedIntervals } = { consumers: this.consumers };
    let any = false;
    for (const view of this.#views.values()) {
      const intervals = this.#attribute(view);
      if (!intervals) continue;
      any = true;
      if (view.kind === 'process') result.processes = intervals;
      else result.cgroups = intervals;
    }
    return any ? result : undefined;
  }

  #addTicks(energy: EnergyColumns): void {
    const added = energy.timestampsMs.length;
    if (added === 0) return;
    const keep = (column: Column<Float64Array>, values: Float64Array) => {
      if (column.length > TICK_HISTORY) column.shift(column.length - TICK_HISTORY);
      column.reserve(column.length + added).set(values, column.length);
      column.length += added;
    };
    keep(this.#ticksMs, energy.timestampsMs);
    this.#domains.forEach((d, i) => keep(this.#ticksUj[i], energy.energyUj[d]));
  }

  #addRounds(cpu: Float64Array): void {
    const n = cpu.length / 3;
    let start = 0; // the round's first record
    for (let i = 0; i < n; i++) {
      const slot = cpu[n + i];
      if (slot >= 0) continue;
      const view = this.#views.get(slot);
      if (view) {
        for (let r = start; r < i; r++) {
          view.recordSlot.push(cpu[n + r]);
          view.recordValue.push(cpu[2 * n + r]);
        }
        view.roundMs.push(cpu[i]);
        view.roundSystem.push(cpu[2 * n + i]);
        view.roundEnd.push(view.recordSlot.length);
      }
      start = i + 1;
    }
  }

  /** Each domain's energy at `timeMs` into `out`, rounded to whole µJ; false until a tick at or after it. */
  #energyAt(timeMs: number, out: Float64Array): boolean {
    const times = this.#ticksMs.data;
    const count = this.#ticksMs.length;
    if (count === 0 || times[count - 1] < timeMs) return false;
    let lo = 0;
    let hi = count - 1; // first tick at or after timeMs
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (times[mid] >= timeMs) hi = mid;
      else lo = mid + 1;
    }
    const before = Math.max(0, hi - 1);
    for (let d = 0; d < out.length; d++) {
      const uj = this.#ticksUj[d].data;
      out[d] = Math.round(energyAt(timeMs, times[before], uj[before], times[hi], uj[hi]));
    }
    return true;
  }

  #attribute(view: View): AttributedIntervals | undefined {
    let done = 0;
    let from = 0;
    for (; done < view.roundMs.length; done++) {
      if (!this.#energyAt(view.roundMs.data[done], view.energyUj)) break;
      const to = view.roundEnd.data[done];
      this.#round(view, done, from, to);
      from = to;
    }
    if (done > 0) {
      view.roundMs.shift(done);
      view.roundSystem.shift(done);
      view.roundEnd.shift(done);
      for (let r = 0; r < view.roundEnd.length; r++) view.roundEnd.data[r] -= from;
      view.recordSlot.shift(from);
      view.recordValue.shift(from);
    }
    if (view.endMs.length === 0) return undefined;
    return {
      kind: view.kind,
      domains: this.#domains,
      endMs: view.endMs.take(),
      measuredUj: view.outMeasuredUj.map((c) => c.take()),
      unattributedUj: view.outUnattributedUj.map((c) => c.take()),
      rows: {
        length: view.rowConsumer.length,
        interval: view.rowInterval.take(),
        consumer: view.rowConsumer.take(),
        energyUj: view.rowEnergyUj.map((c) => c.take()),
        cpuSeconds: view.rowCpuSeconds.take(),
      },
    };
  }

  /** Attributes pending round `r` (records from..to), whose energy is in view.energyUj. */
  #round(view: View, r: number, from: number, to: number): void {
    const round = view.rounds++;
    const timeMs = view.roundMs.data[r];
    // The busy time of each slot that has a baseline; a first record is one.
    const busySlots = view.busySlots;
    let n = 0;
    let ended = false;
    const busy = view.busy.reserve(to - from);
    for (let i = from; i < to; i++) {
      const slot = view.recordSlot.data[i];
      const state = view.bySlot[slot];
      if (!state) continue; // untracked meanwhile
      const value = view.recordValue.data[i];
      if (Number.isNaN(value)) {
        ended = true;
        continue;
      }
      if (Number.isNaN(state.first)) state.first = value;
      else if (value > state.last) {
        busySlots[n] = state;
        busy[n] = value - state.last;
        state.busyRound = round;
        state.busyAt = n++;
      }
      state.last = value;
    }
    const domains = this.#domains.length;
    const energyUj = view.energyUj;
    if (!Number.isNaN(view.lastSystem)) {
      const systemBusy = view.roundSystem.data[r] - view.lastSystem;
      // Nested cgroups: each counts its descendants too; attribute only its own time.
      let own: Float64Array = busy;
      if (view.kind === 'cgroup') {
        const parents = view.parents.reserve(n);
        for (let i = 0; i < n; i++) parents[i] = this.#busyParent(view, busySlots[i], round);
        own = view.own.reserve(n);
        exclusiveBusyInto(busy, parents, n, own);
      }
      const interval = view.endMs.length;
      view.endMs.push(timeMs);
      const parts = view.parts.reserve(n);
      for (let d = 0; d < domains; d++) {
        const measured = energyUj[d] - view.lastEnergyUj[d];
        const unattributed = splitEnergyInto(measured, systemBusy, own, n, parts);
        view.measuredUj[d] += measured;
        view.unattributedUj[d] += unattributed;
        view.outMeasuredUj[d].push(view.measuredUj[d]);
        view.outUnattributedUj[d].push(view.unattributedUj[d]);
        const column = view.rowEnergyUj[d];
        for (let i = 0; i < n; i++) {
          const state = busySlots[i];
          state.energyUj[d] += parts[i];
          column.push(state.energyUj[d]);
        }
      }
      for (let i = 0; i < n; i++) {
        const state = busySlots[i];
        // From the counter itself, not a sum of deltas: no rounding accumulates.
        state.cpuSeconds = (state.last - state.first) / view.unitsPerSecond;
        view.rowInterval.push(interval);
        view.rowConsumer.push(state.consumer.index);
        view.rowCpuSeconds.push(state.cpuSeconds);
      }
    }
    busySlots.fill(undefined as unknown as SlotState, 0, n); // keep no consumer alive
    view.lastSystem = view.roundSystem.data[r];
    view.lastEnergyUj.set(energyUj);
    view.lastMs = timeMs;
    if (ended) this.#end(view, from, to, timeMs);
  }

  /** The slots whose record in from..to says they ended: they end at the round's time. */
  #end(view: View, from: number, to: number, timeMs: number): void {
    for (let i = from; i < to; i++) {
      if (!Number.isNaN(view.recordValue.data[i])) continue;
      const slot = view.recordSlot.data[i];
      const state = view.bySlot[slot];
      if (!state) continue;
      view.bySlot[slot] = undefined;
      if (Number.isNaN(state.consumer.endedMs)) state.consumer.endedMs = timeMs;
      this.#onEnded(slot, state.consumer);
    }
  }

  /** A busy slot's parent among the round's busy slots (-1: none busy, or none tracked). */
  #busyParent(view: View, state: SlotState, round: number): number {
    // The nearest tracked ancestor that was busy; a quiet ancestor lets its child's time through.
    for (let slot = state.parentSlot; slot >= 0; ) {
      const parent = view.bySlot[slot];
      if (!parent) return -1;
      if (parent.busyRound === round) return parent.busyAt;
      slot = parent.parentSlot;
    }
    return -1;
  }

  /** The running totals of a view; undefined when its kind is not tracked. */
  totals(kind: ConsumerKind): AttributionTotals | undefined {
    const view = this.#views.get(kind === 'process' ? PROCESS_ROUND_SLOT : CGROUP_ROUND_SLOT);
    if (!view) return undefined;
    return {
      kind,
      domains: this.#domainNames,
      endMs: view.lastMs,
      measuredUj: Array.from(view.measuredUj),
      unattributedUj: Array.from(view.unattributedUj),
      consumers: this.#states
        .filter((state) => state.consumer.kind === kind)
        .map((state) => ({ consumer: state.consumer, energyUj: Array.from(state.energyUj), cpuSeconds: state.cpuSeconds })),
    };
  }
}
