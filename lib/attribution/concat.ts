// Joins the attribution of consecutive batches, as concatBatches joins their ticks.
import type { AttributedIntervals, BatchAttribution } from './types.js';

function joinColumns<T extends Float64Array | Uint32Array>(parts: readonly T[], make: (n: number) => T): T {
  const out = make(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function joinIntervals(parts: readonly AttributedIntervals[]): AttributedIntervals | undefined {
  if (parts.length <= 1) return parts[0];
  const floats = (pick: (p: AttributedIntervals) => Float64Array) => joinColumns(parts.map(pick), (n) => new Float64Array(n));
  const perDomain = (pick: (p: AttributedIntervals) => readonly Float64Array[]) => parts[0].domains.map((_, d) => floats((p) => pick(p)[d]));
  // Each part's row intervals count from its own first interval.
  let offset = 0;
  const intervals = parts.map((p) => {
    const shifted = p.rows.interval.map((i) => i + offset);
    offset += p.endMs.length;
    return shifted;
  });
  const consumer = joinColumns(parts.map((p) => p.rows.consumer), (n) => new Uint32Array(n));
  return {
    kind: parts[0].kind,
    domains: parts[0].domains,
    endMs: floats((p) => p.endMs),
    measuredUj: perDomain((p) => p.measuredUj),
    unattributedUj: perDomain((p) => p.unattributedUj),
    rows: {
      length: consumer.length,
      interval: joinColumns(intervals, (n) => new Uint32Array(n)),
      consumer,
      energyUj: perDomain((p) => p.rows.energyUj),
      cpuSeconds: floats((p) => p.rows.cpuSeconds),
    },
  };
}

/** The attribution of consecutive batches as one; undefined when none has any. */
export function concatAttribution(parts: readonly (BatchAttribution | undefined)[]): BatchAttribution | undefined {
  const present = parts.filter((p): p is BatchAttribution => p !== undefined);
  if (present.length === 0) return undefined;
  const processes = joinIntervals(present.flatMap((p) => (p.processes ? [p.processes] : [])));
  const cgroups = joinIntervals(present.flatMap((p) => (p.cgroups ? [p.cgroups] : [])));
  return { consumers: present[present.length - 1].consumers, ...(processes && { processes }), ...(cgroups && { cgroups }) };
}
