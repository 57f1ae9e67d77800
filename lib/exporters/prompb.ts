// Prometheus remote write 1.0 wire format: the prompb messages wattmeter sends, with the
// field numbers of prometheus/prompb/types.proto and remote.proto, parsed at load time
// (no code generation step). Reflection encoders are as fast as generated ones.
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

export interface Sample {
  value: number;
  timestamp: number;
}

export interface TimeSeries {
  labels: Label[];
  samples: Sample[];
}

const WriteRequest = protobuf.parse(PROTO).root.lookupType('prometheus.WriteRequest');

export function encodeWriteRequest(timeseries: TimeSeries[]): Uint8Array {
  return WriteRequest.encode({ timeseries }).finish();
}

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
