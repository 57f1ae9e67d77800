// Turns the CPU-time records (native/cputime.h) and the energy ticks of the same drains
// into attributed intervals: one interval per round of CPU-time reads, its measured
// energy the counters interpolated at the round's instant, split by split.ts. Knows
// nothing of files or options; the tracker tells it which slot is which consumer.
import { energyAt, exclusiveBusy, splitEnergy } from './split.js';
import type { AttributedIntervals, AttributionTotals, BatchAttribution, Consumer, ConsumerKind } from './types.js';

/** The slots of the records that close a round (native/cputime.h). */
export const PROCESS_ROUND_SLOT = -1;
export const CGROUP_ROUND_SLOT = -2;

/** The energy ticks of one drain: the columns of a Batch. */
export interface EnergyColumns {
  readonly timestampsMs: Float64Array;
  readonly energyUj: readonly Float64Array[];
}

interface Round {
  timeMs: number;
  system: number;
  slots: number[];
  values: number[];
}

interface SlotState {
  consumer: Consumer;
  parentSlot: number;
  first: number; // the baseline reading; NaN until it comes
  last: number;
  energyUj: number[];
  cpuSeconds: number;
}

/** Ticks kept from earlier drains, for rounds stamped before a drain's first tick. */
const TICK_HISTORY = 256;

/** Growable columns of one drain's output of a view. */
class Output {
  endMs: number[] = [];
  measuredUj: number[][];
  unattributedUj: number[][];
  rowInterval: number[] = [];
  rowConsumer: number[] = [];
  rowEnergyUj: number[][];
  rowCpuSeconds: number[] = [];
  constructor(domains: number) {
    this.measuredUj = Array.from({ length: domains }, () => []);
    this.unattributedUj = Array.from({ length: domains }, () => []);
    this.rowEnergyUj = Array.from({ length: domains }, () => []);
  }
}

/** One kind of consumer: its rounds, its slots and its running totals. */
class View {
  readonly kind: ConsumerKind;
  readonly unitsPerSecond: number;
  readonly slots = new Map<number, SlotState>();
  pending: Round[] = [];
  lastSystem = NaN;
  lastEnergyUj: number[] = [];
  lastMs = NaN;
  measuredUj: number[];
  unattributedUj: number[];

  constructor(kind: ConsumerKind, unitsPerSecond: number, domains: number) {
    this.kind = kind;
    this.unitsPerSecond = unitsPerSecond;
    this.measuredUj = new Array<number>(domains).fill(0);
    this.unattributedUj = new Array<number>(domains).fill(0);
  }
}

export class Attributor {
  readonly consumers: Consumer[] = [];
  readonly #states: SlotState[] = []; // by consumer index, ended ones too
  readonly #domains: readonly number[];
  readonly #domainNames: readonly string[];
  readonly #views = new Map<number, View>(); // by the slot that closes its rounds
  readonly #onEnded: (slot: number, consumer: Consumer) => void;
  #ticksMs = new Float64Array(0);
  #ticksUj: Float64Array[] = [];

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
    this.#ticksUj = options.domains.map(() => new Float64Array(0));
  }

  /** Names a slot: its records count for `consumer` from its first one on. */
  addConsumer(slot: number, consumer: Omit<Consumer, 'index'>, parentSlot = -1): Consumer {
    const view = this.#viewOf(consumer.kind);
    const full: Consumer = { ...consumer, index: this.consumers.length };
    const state: SlotState = { consumer: full, parentSlot, first: NaN, last: NaN, energyUj: new Array<number>(this.#domains.length).fill(0), cpuSeconds: 0 };
    this.consumers.push(full);
    this.#states.push(state);
    view.slots.set(slot, state);
    return full;
  }

  /** Stops counting a slot (its consumer is gone): it ends at `timeMs`. */
  endSlot(kind: ConsumerKind, slot: number, timeMs: number): void {
    const view = this.#viewOf(kind);
    const state = view.slots.get(slot);
    if (!state) return;
    view.slots.delete(slot);
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
    if (energy.timestampsMs.length === 0) return;
    const keep = (old: Float64Array, added: Float64Array) => {
      const from = Math.max(0, old.length - TICK_HISTORY);
      const joined = new Float64Array(old.length - from + added.length);
      joined.set(old.subarray(from));
      joined.set(added, old.length - from);
      return joined;
    };
    this.#ticksMs = keep(this.#ticksMs, energy.timestampsMs);
    this.#ticksUj = this.#domains.map((d, i) => keep(this.#ticksUj[i], energy.energyUj[d]));
  }

  #addRounds(cpu: Float64Array): void {
    const n = cpu.length / 3;
    let slots: number[] = [];
    let values: number[] = [];
    for (let i = 0; i < n; i++) {
      const slot = cpu[n + i];
      const value = cpu[2 * n + i];
      if (slot >= 0) {
        slots.push(slot);
        values.push(value);
        continue;
      }
      this.#views.get(slot)?.pending.push({ timeMs: cpu[i], system: value, slots, values });
      slots = [];
      values = [];
    }
  }

  /** Each domain's energy at `timeMs`, rounded to whole µJ; undefined until a tick at or after it. */
  #energyAt(timeMs: number): number[] | undefined {
    const times = this.#ticksMs;
    if (times.length === 0 || times[times.length - 1] < timeMs) return undefined;
    let lo = 0;
    let hi = times.length - 1; // first tick at or after timeMs
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (times[mid] >= timeMs) hi = mid;
      else lo = mid + 1;
    }
    const before = Math.max(0, hi - 1);
    return this.#ticksUj.map((uj) => Math.round(energyAt(timeMs, times[before], uj[before], times[hi], uj[hi])));
  }

  #attribute(view: View): AttributedIntervals | undefined {
    const out = new Output(this.#domains.length);
    let done = 0;
    for (const round of view.pending) {
      const energyUj = this.#energyAt(round.timeMs);
      if (!energyUj) break;
      done++;
      this.#round(view, round, energyUj, out);
    }
    view.pending = view.pending.slice(done);
    if (out.endMs.length === 0) return undefined;
    return {
      kind: view.kind,
      domains: this.#domains,
      endMs: Float64Array.from(out.endMs),
      measuredUj: out.measuredUj.map((c) => Float64Array.from(c)),
      unattributedUj: out.unattributedUj.map((c) => Float64Array.from(c)),
      rows: {
        length: out.rowConsumer.length,
        interval: Uint32Array.from(out.rowInterval),
        consumer: Uint32Array.from(out.rowConsumer),
        energyUj: out.rowEnergyUj.map((c) => Float64Array.from(c)),
        cpuSeconds: Float64Array.from(out.rowCpuSeconds),
      },
    };
  }

  #round(view: View, round: Round, energyUj: number[], out: Output): void {
    // The busy time of each slot that has a baseline; a first record is one.
    const busySlots: SlotState[] = [];
    const busy: number[] = [];
    const ended: [number, SlotState][] = [];
    for (let i = 0; i < round.slots.length; i++) {
      const state = view.slots.get(round.slots[i]);
      if (!state) continue; // untracked meanwhile
      const value = round.values[i];
      if (Number.isNaN(value)) {
        ended.push([round.slots[i], state]);
        continue;
      }
      if (Number.isNaN(state.first)) state.first = value;
      else if (value > state.last) {
        busySlots.push(state);
        busy.push(value - state.last);
      }
      state.last = value;
    }
    const first = Number.isNaN(view.lastSystem);
    if (!first) {
      const systemBusy = round.system - view.lastSystem;
      // Nested cgroups: each counts its descendants too; attribute only its own time.
      const own = view.kind === 'cgroup' ? exclusiveBusy(busy, this.#parents(view, busySlots)) : busy;
      const interval = out.endMs.length;
      out.endMs.push(round.timeMs);
      const parts = this.#domains.map((_, d) => {
        const measured = energyUj[d] - view.lastEnergyUj[d];
        const split = splitEnergy(measured, systemBusy, own);
        view.measuredUj[d] += measured;
        view.unattributedUj[d] += split.unattributedUj;
        out.measuredUj[d].push(view.measuredUj[d]);
        out.unattributedUj[d].push(view.unattributedUj[d]);
        return split.partsUj;
      });
      busySlots.forEach((state, i) => {
        // From the counter itself, not a sum of deltas: no rounding accumulates.
        state.cpuSeconds = (state.last - state.first) / view.unitsPerSecond;
        out.rowInterval.push(interval);
        out.rowConsumer.push(state.consumer.index);
        out.rowCpuSeconds.push(state.cpuSeconds);
        this.#domains.forEach((_, d) => {
          state.energyUj[d] += parts[d][i];
          out.rowEnergyUj[d].push(state.energyUj[d]);
        });
      });
    }
    view.lastSystem = round.system;
    view.lastEnergyUj = energyUj;
    view.lastMs = round.timeMs;
    for (const [slot, state] of ended) {
      view.slots.delete(slot);
      if (Number.isNaN(state.consumer.endedMs)) state.consumer.endedMs = round.timeMs;
      this.#onEnded(slot, state.consumer);
    }
  }

  /** Each busy slot's parent among the busy slots (-1: none busy, or none tracked). */
  #parents(view: View, busySlots: readonly SlotState[]): number[] {
    const position = new Map<SlotState, number>(busySlots.map((s, i) => [s, i]));
    return busySlots.map((state) => {
      // The nearest tracked ancestor that was busy; a quiet ancestor lets its child's time through.
      for (let slot = state.parentSlot; slot >= 0; ) {
        const parent = view.slots.get(slot);
        if (!parent) return -1;
        const at = position.get(parent);
        if (at !== undefined) return at;
        slot = parent.parentSlot;
      }
      return -1;
    });
  }

  /** The running totals of a view; undefined when its kind is not tracked. */
  totals(kind: ConsumerKind): AttributionTotals | undefined {
    const view = this.#views.get(kind === 'process' ? PROCESS_ROUND_SLOT : CGROUP_ROUND_SLOT);
    if (!view) return undefined;
    return {
      kind,
      domains: this.#domainNames,
      endMs: view.lastMs,
      measuredUj: [...view.measuredUj],
      unattributedUj: [...view.unattributedUj],
      consumers: this.#states
        .filter((state) => state.consumer.kind === kind)
        .map((state) => ({ consumer: state.consumer, energyUj: [...state.energyUj], cpuSeconds: state.cpuSeconds })),
    };
  }
}
