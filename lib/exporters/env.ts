// The exporters' settings (the sampler's own, such as WATTMETER_RATE_HZ, are read by
// optionsFromEnv), declared once in EXPORTER_OPTIONS: each an environment variable, most
// also a flag of `wattmeter export`. A missing or malformed value is a usage error at
// start that names the variable or flag it came from. Secrets have no flag: a command line
// is visible to every user of the machine (ps).
import { hostname } from 'node:os';
import { usageError } from '../errors.js';
import { envNames, parseTexts, textsFromEnv, type OptionNames, type OptionSpec, type OptionTexts, type OptionValues } from '../option-table.js';
import type { MetricsServerOptions } from '../prometheus/http.js';
import { redactUrl } from '../prometheus/request.js';
import type { AttributionExportOptions } from './attribution.js';
import type { MultirateExporterOptions } from './multirate.js';
import type { RemoteWriteAuth, RemoteWriteOptions } from './remote-write.js';

// serve: clear of Prometheus 9090, Pushgateway 9091 (simple's), 9092 (multirate's, and
// Kafka's), Alertmanager 9093 and 9094, Grafana 3000 and the exporters' range 9100-9999
// (docs/serve.md).
export const DEFAULT_PORTS = { simple: 9091, multirate: 9092, serve: 9097 } as const;

// An empty value counts as unset everywhere here, as most shells make that easy.
export const EXPORTER_OPTIONS = {
  host: { env: 'WATTMETER_HOST', flag: '--host', metavar: 'ADDRESS', kind: 'string', emptyIsUnset: true, defaultDoc: '127.0.0.1', help: 'address to listen on' },
  port: {
    env: 'WATTMETER_PORT',
    flag: '--port',
    metavar: 'PORT',
    kind: 'number',
    integer: true,
    min: 0,
    max: 65535,
    emptyIsUnset: true,
    defaultDoc: `${DEFAULT_PORTS.simple} (simple), ${DEFAULT_PORTS.multirate} (multirate), ${DEFAULT_PORTS.serve} (serve)`,
    help: 'port to listen on',
  },
  webConfigFile: {
    env: 'WATTMETER_WEB_CONFIG',
    flag: '--web-config',
    metavar: 'FILE',
    kind: 'string',
    emptyIsUnset: true,
    defaultDoc: 'none: plain HTTP, no authentication',
    help: "TLS and basic auth for /metrics (and serve's page), in exporter-toolkit's web config format (as node_exporter's)",
  },
  multirateWindowMs: {
    env: 'WATTMETER_MULTIRATE_WINDOW_MS',
    flag: '--window-ms',
    metavar: 'MS',
    kind: 'number',
    integer: true,
    min: 1000,
    max: 600_000,
    emptyIsUnset: true,
    defaultDoc: '30000',
    help: 'how long the multirate exporter keeps samples for scrapers',
  },
  remoteWriteUrl: { env: 'WATTMETER_REMOTE_WRITE_URL', flag: '--url', metavar: 'URL', kind: 'string', emptyIsUnset: true, help: 'remote write: where to push (required)' },
  pushIntervalMs: {
    env: 'WATTMETER_PUSH_INTERVAL_MS',
    flag: '--push-interval-ms',
    metavar: 'MS',
    kind: 'number',
    integer: true,
    min: 10,
    max: 3_600_000,
    emptyIsUnset: true,
    defaultDoc: '1000',
    help: 'remote write: how often to push',
  },
  queueDir: {
    env: 'WATTMETER_REMOTE_WRITE_QUEUE_DIR',
    flag: '--queue-dir',
    metavar: 'DIR',
    kind: 'string',
    emptyIsUnset: true,
    defaultDoc: 'none: in memory',
    help: 'remote write: keep the queue on disk here, to survive a crash or restart',
  },
  maxQueueBytes: {
    env: 'WATTMETER_REMOTE_WRITE_MAX_QUEUE_BYTES',
    flag: '--max-queue-bytes',
    metavar: 'BYTES',
    kind: 'number',
    integer: true,
    min: 65_536,
    max: 2 ** 50,
    emptyIsUnset: true,
    defaultDoc: '1 GiB',
    help: 'remote write: bound on the disk queue; the oldest samples go first',
  },
  maxShards: {
    env: 'WATTMETER_REMOTE_WRITE_MAX_SHARDS',
    flag: '--max-shards',
    metavar: 'N',
    kind: 'number',
    integer: true,
    min: 1,
    max: 64,
    emptyIsUnset: true,
    defaultDoc: '8',
    help: 'remote write: most requests in flight as the backlog grows',
  },
  processLabels: {
    env: 'WATTMETER_PROCESS_LABELS',
    flag: '--process-labels',
    metavar: 'name|pid',
    kind: 'choice',
    choices: ['name', 'pid'],
    emptyIsUnset: true,
    default: 'name',
    help: 'attributed energy per process: one series per process name, or one per pid (a label that churns)',
  },
  bearerToken: { env: 'WATTMETER_REMOTE_WRITE_BEARER_TOKEN', kind: 'string', emptyIsUnset: true, help: 'bearer token for the receiver' },
  username: { env: 'WATTMETER_REMOTE_WRITE_USERNAME', kind: 'string', emptyIsUnset: true, help: 'basic auth user' },
  password: { env: 'WATTMETER_REMOTE_WRITE_PASSWORD', kind: 'string', emptyIsUnset: true, help: 'basic auth password' },
  job: { env: 'WATTMETER_JOB', flag: '--job', metavar: 'NAME', kind: 'string', emptyIsUnset: true, default: 'wattmeter', help: 'remote write: the job label' },
  instance: { env: 'WATTMETER_INSTANCE', flag: '--instance', metavar: 'NAME', kind: 'string', emptyIsUnset: true, defaultDoc: 'the host name', help: 'remote write: the instance label' },
} as const satisfies Record<string, OptionSpec>;

type Table = typeof EXPORTER_OPTIONS;

export const EXPORTER_ENV = envNames(EXPORTER_OPTIONS);

type Env = NodeJS.ProcessEnv;

/** Where the settings come from: their texts, and what to call each one in an error. */
export interface ExporterSettings {
  texts: OptionTexts<Table>;
  names: OptionNames<Table>;
}

/** The settings in the environment; errors name the variables. */
export function settingsFromEnv(env: Env = process.env): ExporterSettings {
  return { texts: textsFromEnv(EXPORTER_OPTIONS, env), names: EXPORTER_ENV };
}

/** These settings, parsed. */
function read<K extends keyof Table>(settings: ExporterSettings, keys: readonly K[]): Pick<OptionValues<Table>, K> {
  const texts = Object.fromEntries(keys.map((key) => [key, settings.texts[key]]));
  return parseTexts(EXPORTER_OPTIONS, texts, settings.names);
}

/** WATTMETER_HOST (default 127.0.0.1), WATTMETER_PORT and WATTMETER_WEB_CONFIG. */
export function serverOptionsFromEnv(defaultPort: number, env: Env = process.env): MetricsServerOptions {
  return serverOptions(settingsFromEnv(env), defaultPort);
}

export function serverOptions(settings: ExporterSettings, defaultPort: number): MetricsServerOptions {
  const { host, port, webConfigFile } = read(settings, ['host', 'port', 'webConfigFile']);
  return { host, port: port ?? defaultPort, webConfigFile };
}

/**
 * The multirate exporter's server options and WATTMETER_MULTIRATE_WINDOW_MS (1 s to
 * 10 min; the window is kept in memory, about 6.5 MB per domain for 30 s at 1 kHz).
 */
export function multirateOptionsFromEnv(env: Env = process.env): Omit<MultirateExporterOptions, 'sampler'> {
  return multirateOptions(settingsFromEnv(env));
}

export function multirateOptions(settings: ExporterSettings): Omit<MultirateExporterOptions, 'sampler'> {
  return { ...serverOptions(settings, DEFAULT_PORTS.multirate), windowMs: read(settings, ['multirateWindowMs']).multirateWindowMs };
}

/** WATTMETER_REMOTE_WRITE_URL (required), the push interval, auth, job and instance. */
export function remoteWriteOptionsFromEnv(env: Env = process.env): RemoteWriteSettings {
  return remoteWriteOptions(settingsFromEnv(env));
}

type RemoteWriteSettings = Pick<RemoteWriteOptions, 'url' | 'pushIntervalMs' | 'auth' | 'job' | 'instance' | 'queueDir' | 'maxQueueBytes' | 'maxShards'>;

export function remoteWriteOptions(settings: ExporterSettings): RemoteWriteSettings {
  const name = (key: keyof Table) => settings.names[key] ?? key;
  const { remoteWriteUrl: url } = read(settings, ['remoteWriteUrl']);
  if (url === undefined) {
    throw usageError(`${name('remoteWriteUrl')} is required, e.g. http://localhost:9090/api/v1/write`);
  }
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (parsed?.protocol !== 'http:' && parsed?.protocol !== 'https:') {
    throw usageError(`${name('remoteWriteUrl')} must be an http:// or https:// URL; got "${redactUrl(url)}".`);
  }
  const { pushIntervalMs, job, instance, queueDir, maxQueueBytes, maxShards } = read(settings, [
    'pushIntervalMs',
    'job',
    'instance',
    'queueDir',
    'maxQueueBytes',
    'maxShards',
  ]);
  if (maxQueueBytes !== undefined && queueDir === undefined) {
    throw usageError(`${name('maxQueueBytes')} bounds the disk queue: set ${name('queueDir')} too.`);
  }
  return {
    url,
    pushIntervalMs,
    queueDir,
    maxQueueBytes,
    maxShards,
    auth: auth(settings),
    job: job ?? EXPORTER_OPTIONS.job.default,
    instance: instance ?? hostname(),
  };
}

/** WATTMETER_PROCESS_LABELS: how attributed process series are labelled (every exporter). */
export function attributionOptions(settings: ExporterSettings): AttributionExportOptions {
  return { processLabels: read(settings, ['processLabels']).processLabels as AttributionExportOptions['processLabels'] };
}

function auth(settings: ExporterSettings): RemoteWriteAuth | undefined {
  const { bearerToken, username, password } = read(settings, ['bearerToken', 'username', 'password']);
  if (bearerToken !== undefined && (username !== undefined || password !== undefined)) {
    throw usageError(`Set either ${EXPORTER_ENV.bearerToken} or ${EXPORTER_ENV.username}/${EXPORTER_ENV.password}, not both.`);
  }
  if (bearerToken !== undefined) return { bearerToken };
  if ((username === undefined) !== (password === undefined)) {
    throw usageError(`${EXPORTER_ENV.username} and ${EXPORTER_ENV.password} go together; only one is set.`);
  }
  return username === undefined ? undefined : { username, password: password! };
}
