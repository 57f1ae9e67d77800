// Prometheus remote write 1.0 wire format: the prompb messages wattmeter sends, with the
// field numbers of prometheus/prompb/types.proto and remote.proto. The encoder writes
// straight from the queue's columns into one buffer, so a request of 10 000 samples makes
// no object per sample; the same messages, parsed at load time by protobufjs (no code
// generation step), decode requests for whoever needs to read one.
import protobuf from 'protobufjs';

const PROTO = `
syntax = "proto3";
package prometheus;
message WriteRequest {
  repeated TimeSeries timeseries = 1;
  reserved 2;
}
message TimeSeries {
  repeated Label labels = 1;
  repeated Sample samples = 2;
}
message Label {
  string name = 1;
  string value = 2;
}
message Sample {
  double value = 1;
  int64 timestamp = 2; // ms since the epoch
}
`;

export interface Label {
  name: string;
  value: string;
}

/** Samples of one series as columns: ms timestamps and values. */
export interface SampleColumns {
  timestampsMs: Float64Array;
  values: Float64Array;
}

/** A series to encode: its labels (sorted, see sortedLabels) and its samples in time order. */
export interface SeriesColumns {
  labels: readonly Label[];
  samples: readonly SampleColumns[];
}

/** A decoded series. */
export interface TimeSeries {
  labels: Label[];
  samples: { value: number; timestamp: number }[];
}

// Field keys: (field number << 3) | wire type (0 varint, 1 fixed 64 bits, 2 length-delimited).
const WRITE_REQUEST_TIMESERIES = (1 << 3) | 2;
const TIMESERIES_LABELS = (1 << 3) | 2;
const TIMESERIES_SAMPLES = (2 << 3) | 2;
const LABEL_NAME = (1 << 3) | 2;
const LABEL_VALUE = (2 << 3) | 2;
const SAMPLE_VALUE = (1 << 3) | 1;
const SAMPLE_TIMESTAMP = (2 << 3) | 0;

/** Bytes of a non-negative integer below 2^53 as a varint. */
function varintLength(n: number): number {
  let length = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    length++;
  }
  return length;
}

/** A length-delimited field's bytes: key, length, body. */
const delimited = (length: number) => 1 + varintLength(length) + length;

/**
 * The request's bytes, written in one pass into a buffer sized beforehand: protobufjs's
 * Writer queues an operation object per field, six per sample, and the garbage they make
 * was most of the encoding's time.
 */
export function encodeWriteRequest(timeseries: readonly SeriesColumns[]): Uint8Array {
  // Sizes first: each message's length precedes it.
  const labelBytes = timeseries.map(({ labels }) => labels.map(({ name, value }) => [Buffer.from(name), Buffer.from(value)] as const));
  const seriesLengths = timeseries.map(({ samples }, s) => {
    let length = 0;
    for (const [name, value] of labelBytes[s]) length += delimited(delimited(name.length) + delimited(value.length));
    for (const { timestampsMs, values } of samples) {
      for (let i = 0; i < values.length; i++) length += delimited(10 + varintLength(timestampsMs[i])); // 1 + 8 + 1 + varint
    }
    return length;
  });
  const out = new Uint8Array(seriesLengths.reduce((total, length) => total + delimited(length), 0));
  const view = new DataView(out.buffer);
  let at = 0;
  const varint = (n: number) => {
    while (n >= 128) {
      const rest = Math.floor(n / 128);
      out[at++] = (n - rest * 128) | 0x80;
      n = rest;
    }
    out[at++] = n;
  };
  const bytes = (key: number, body: Uint8Array) => {
    out[at++] = key;
    varint(body.length);
    out.set(body, at);
    at += body.length;
  };
  timeseries.forEach(({ samples }, s) => {
    out[at++] = WRITE_REQUEST_TIMESERIES;
    varint(seriesLengths[s]);
    for (const [name, value] of labelBytes[s]) {
      out[at++] = TIMESERIES_LABELS;
      varint(delimited(name.length) + delimited(value.length));
      bytes(LABEL_NAME, name);
      bytes(LABEL_VALUE, value);
    }
    for (const { timestampsMs, values } of samples) {
      for (let i = 0; i < values.length; i++) {
        const t = timestampsMs[i];
        out[at++] = TIMESERIES_SAMPLES;
        out[at++] = 10 + varintLength(t); // below 128: one byte
        out[at++] = SAMPLE_VALUE;
        view.setFloat64(at, values[i], true);
        at += 8;
        out[at++] = SAMPLE_TIMESTAMP;
        varint(t);
      }
    }
  });
  return out;
}

const WriteRequest = protobuf.parse(PROTO).root.lookupType('prometheus.WriteRequest');

export function decodeWriteRequest(bytes: Uint8Array): { timeseries: TimeSeries[] } {
  const message = WriteRequest.decode(bytes);
  return WriteRequest.toObject(message, { longs: Number, defaults: true }) as { timeseries: TimeSeries[] };
}

/**
 * Labels as remote write requires them: `__name__` set, sorted by name (byte order), no
 * empty names or values, no name twice.
 */
export function sortedLabels(name: string, labels: Record<string, string>): Label[] {
  const pairs = Object.entries({ ...labels, __name__: name }).map(([n, value]) => ({ name: n, value }));
  for (const { name: n, value } of pairs) {
    if (n === '' || value === '') throw new Error(`remote write: label ${n || '(empty)'} of ${name} is empty`);
  }
  return pairs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
