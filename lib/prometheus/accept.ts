// Content negotiation for a scrape. Which exposition format a scraper gets, from its Accept
// header (RFC 9110 section 12.5.1): OpenMetrics 1.0 or the text format 0.0.4. Prometheus
// asks for OpenMetrics first:
//   application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,
//   text/plain;version=0.0.4;q=0.5,*/*;q=0.1
// And whether it takes gzip, from Accept-Encoding (section 12.5.3), which Prometheus sends.

export type ExpositionFormat = 'text' | 'openmetrics';
export const EXPOSITION_FORMATS: readonly ExpositionFormat[] = ['text', 'openmetrics'];

interface Offer {
  format: ExpositionFormat;
  type: string;
  version: string;
}

// What the exporters write, in the order preferred when a client likes both equally.
const OFFERS: readonly Offer[] = [
  { format: 'text', type: 'text/plain', version: '0.0.4' },
  { format: 'openmetrics', type: 'application/openmetrics-text', version: '1.0.0' },
];

/** One element of an Accept-style list: its value (lower-cased), its weight and parameters. */
interface Weighted {
  value: string;
  q: number;
  params: Map<string, string>;
}

/** `value;name=param;q=0.5, ...`: the grammar Accept and Accept-Encoding share (section 12.4.2). */
function parseWeighted(header: string): Weighted[] {
  return header.split(',').map((part) => {
    const [value, ...params] = part.split(';').map((p) => p.trim());
    const element: Weighted = { value: value.toLowerCase(), q: 1, params: new Map() };
    for (const param of params) {
      const eq = param.indexOf('=');
      const name = param.slice(0, eq).trim().toLowerCase();
      const text = param.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
      if (name === 'q') element.q = Number(text);
      else element.params.set(name, text);
    }
    return element;
  });
}

interface Range {
  type: string;
  version: string | undefined;
  q: number;
}

function parseAccept(accept: string): Range[] {
  return parseWeighted(accept)
    .filter(({ value, q }) => /^[^/\s]+\/[^/\s]+$/.test(value) && q >= 0 && q <= 1) // a malformed q drops the range
    .map(({ value, q, params }) => ({ type: value, version: params.get('version'), q }));
}

/**
 * How specifically a range names an offer (0: not at all): `*` + `/*` < `type/*` <
 * `type/subtype` < `type/subtype;version=...` of the offer's version.
 */
function specificity(range: Range, offer: Offer): number {
  if (range.type === '*/*') return 1;
  if (range.type.endsWith('/*')) return offer.type.startsWith(range.type.slice(0, -1)) ? 2 : 0;
  if (range.type !== offer.type) return 0;
  if (range.version === undefined) return 3;
  return range.version === offer.version ? 4 : 0;
}

/**
 * The format to answer an Accept header with: the highest q-value, each offer weighed by
 * the most specific range that names it; on a tie the more specific, then the text format.
 * No header, or nothing acceptable: the text format, as Prometheus's own client does.
 */
export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  if (!accept) return 'text';
  const ranges = parseAccept(accept);
  let best = { format: 'text' as ExpositionFormat, q: 0, specificity: 0 };
  for (const offer of OFFERS) {
    let q = 0;
    let most = 0;
    for (const range of ranges) {
      const s = specificity(range, offer);
      if (s > most) [q, most] = [range.q, s];
    }
    if (q > best.q || (q === best.q && q > 0 && most > best.specificity)) best = { format: offer.format, q, specificity: most };
  }
  return best.format;
}

/** Whether an Accept-Encoding header takes gzip (by name or `*`, with a q above 0). */
export function acceptsGzip(header: string | undefined): boolean {
  const codings = new Map(parseWeighted(header ?? '').map(({ value, q }) => [value, q]));
  return (codings.get('gzip') ?? codings.get('x-gzip') ?? codings.get('*') ?? 0) > 0;
}
