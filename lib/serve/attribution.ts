// The live page's panel of who uses the power: once a second, per view (processes,
// cgroups), the top consumers by watts over the last second, with their joules since
// start and the unattributed rest, read from the sampler's running totals (so the page
// shows what the exporters count). An estimate: measured energy split by CPU time.
import type { Sampler } from '../sampler.js';
import type { AttributionTotals, ConsumerKind } from '../attribution/types.js';
import { DEFAULT_TOP } from '../exporters/attribution.js';

export interface ShownConsumer {
  name: string;
  /** process: the pid; cgroup: its path. */
  id: string;
  watts: number;
  joules: number;
}

export interface AttributionView {
  kind: ConsumerKind;
  /** The domains the figures add up (every package, else the first attributed domain). */
  domains: string[];
  /** The last attributed interval end, ms since the epoch. */
  endMs: number;
  measuredJoules: number;
  top: ShownConsumer[];
  unattributed: { watts: number; joules: number };
}

/** What the page's panel gets: the views, or null when the sampler does not attribute. */
export type AttributionPanel = { views: AttributionView[] } | null;

interface Previous {
  endMs: number;
  uj: Map<string, number>;
  unattributedUj: number;
}

/** A function that gives the panel's figures now, with watts since its previous call. */
export function attributionPanel(sampler: Sampler, top = DEFAULT_TOP): () => AttributionPanel {
  const previous = new Map<ConsumerKind, Previous>();
  return () => {
    const attribution = sampler.attribution;
    if (!attribution) return null;
    const views: AttributionView[] = [];
    for (const kind of ['process', 'cgroup'] as const) {
      const totals = attribution.totals(kind);
      if (totals) views.push(view(totals, top, previous));
    }
    return { views };
  };
}

function view(totals: AttributionTotals, top: number, previous: Map<ConsumerKind, Previous>): AttributionView {
  const packages = totals.domains.flatMap((name, d) => (name.startsWith('package') ? [d] : []));
  const summed = packages.length > 0 ? packages : [0];
  const sum = (uj: readonly number[]) => summed.reduce((s, d) => s + (uj[d] ?? 0), 0);
  const before = previous.get(totals.kind);
  const spanS = before && totals.endMs > before.endMs ? (totals.endMs - before.endMs) / 1000 : NaN;
  const watts = (uj: number, was: number | undefined) => (Number.isFinite(spanS) ? (uj - (was ?? 0)) / 1e6 / spanS : NaN);
  const now: Previous = { endMs: totals.endMs, uj: new Map(), unattributedUj: sum(totals.unattributedUj) };
  // Those that ended before the previous reading have nothing more to show.
  const recent = totals.consumers.filter(({ consumer }) => !(consumer.endedMs < (before?.endMs ?? -Infinity)));
  const all = recent.map(({ consumer, energyUj }) => {
    const uj = sum(energyUj);
    now.uj.set(consumer.key, uj);
    return { name: consumer.name, id: consumer.id, watts: watts(uj, before?.uj.get(consumer.key)), joules: uj / 1e6 };
  });
  if (Number.isFinite(totals.endMs)) previous.set(totals.kind, now);
  // The busiest now first; before the first second, the most energy so far.
  const rank = (c: ShownConsumer) => (Number.isFinite(c.watts) ? c.watts : c.joules);
  return {
    kind: totals.kind,
    domains: summed.map((d) => totals.domains[d]),
    endMs: totals.endMs,
    measuredJoules: sum(totals.measuredUj) / 1e6,
    top: all.sort((a, b) => rank(b) - rank(a)).slice(0, top),
    unattributed: { watts: watts(now.unattributedUj, before?.unattributedUj), joules: now.unattributedUj / 1e6 },
  };
}
