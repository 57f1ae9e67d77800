// The exporters' environment variables (the sampler's own, such as WATTMETER_RATE_HZ, are
// read by optionsFromEnv), declared once in EXPORTER_OPTIONS. A missing or malformed value
// is a usage error at start.
import { hostname } from 'node:os';
import { usageError } from '../errors.js';
import { envNames, parseTexts, textsFromEnv, type OptionSpec, type OptionValues } from '../option-table.js';
import type { MetricsServerOptions } from '../prometheus/http.js';
import type { MultirateExporterOptions } from './multirate.js';
import type { RemoteWriteAuth, RemoteWriteOptions } from './remote-write.js';

export const DEFAULT_PORTS = { simple: 9091, multirate: 9092 } as const;

// An empty value counts as unset everywhere here, as most shells make that easy.
export const EXPORTER_OPTIONS = {
  host: { env: 'WATTMETER_HOST', kind: 'string', emptyIsUnset: true, defaultDoc: 'all interfaces', help: 'address to listen on' },
  port: {
    env: 'WATTMETER_PORT',
    kind: 'number',
    integer: true,
    min: 0,
    max: 65535,
    emptyIsUnset: true,
    defaultDoc: `${DEFAULT_PORTS.simple} (simple), ${DEFAULT_PORTS.multirate} (multirate)`,
    help: 'port to listen on',
  },
  multirateWindowMs: {
    env: 'WATTMETER_MULTIRATE_WINDOW_MS',
    kind: 'number',
    integer: true,
    min: 1000,
    max: 600_000,
    emptyIsUnset: true,
    help: 'how long the multirate exporter keeps samples for scrapers',
  },
  remoteWriteUrl: { env: 'WATTMETER_REMOTE_WRITE_URL', kind: 'string', emptyIsUnset: true, help: 'where to push (required)' },
  pushIntervalMs: {
    env: 'WATTMETER_PUSH_INTERVAL_MS',
    kind: 'number',
    integer: true,
    min: 10,
    max: 3_600_000,
    emptyIsUnset: true,
    help: 'how often to push',
  },
  bearerToken: { env: 'WATTMETER_REMOTE_WRITE_BEARER_TOKEN', kind: 'string', emptyIsUnset: true, help: 'bearer token for the receiver' },
  username: { env: 'WATTMETER_REMOTE_WRITE_USERNAME', kind: 'string', emptyIsUnset: true, help: 'basic auth user' },
  password: { env: 'WATTMETER_REMOTE_WRITE_PASSWORD', kind: 'string', emptyIsUnset: true, help: 'basic auth password' },
  job: { env: 'WATTMETER_JOB', kind: 'string', emptyIsUnset: true, default: 'wattmeter', help: 'the job label' },
  instance: { env: 'WATTMETER_INSTANCE', kind: 'string', emptyIsUnset: true, defaultDoc: 'the host name', help: 'the instance label' },
} as const satisfies Record<string, OptionSpec>;

type Table = typeof EXPORTER_OPTIONS;

export const EXPORTER_ENV = envNames(EXPORTER_OPTIONS);

type Env = NodeJS.ProcessEnv;

/** These variables, parsed; an error names the variable. */
function fromEnv<K extends keyof Table>(env: Env, keys: readonly K[]): Pick<OptionValues<Table>, K> {
  const texts = textsFromEnv(EXPORTER_OPTIONS, env);
  return parseTexts(EXPORTER_OPTIONS, Object.fromEntries(keys.map((key) => [key, texts[key]])), EXPORTER_ENV);
}

/** WATTMETER_HOST (default: all interfaces) and WATTMETER_PORT. */
export function serverOptionsFromEnv(defaultPort: number, env: Env = process.env): MetricsServerOptions {
  const { host, port } = fromEnv(env, ['host', 'port']);
  return { host, port: port ?? defaultPort };
}

/**
 * The multirate exporter's server options and WATTMETER_MULTIRATE_WINDOW_MS (1 s to
 * 10 min; the window is kept in memory, about 6 MB per domain for 30 s at 1 kHz).
 */
export function multirateOptionsFromEnv(env: Env = process.env): Omit<MultirateExporterOptions, 'sampler'> {
  return {
    ...serverOptionsFromEnv(DEFAULT_PORTS.multirate, env),
    windowMs: fromEnv(env, ['multirateWindowMs']).multirateWindowMs,
  };
}

/** WATTMETER_REMOTE_WRITE_URL (required), the push interval, auth, job and instance. */
export function remoteWriteOptionsFromEnv(
  env: Env = process.env,
): Pick<RemoteWriteOptions, 'url' | 'pushIntervalMs' | 'auth' | 'job' | 'instance'> {
  const { remoteWriteUrl: url } = fromEnv(env, ['remoteWriteUrl']);
  if (url === undefined) {
    throw usageError(`${EXPORTER_ENV.remoteWriteUrl} is required, e.g. http://localhost:9090/api/v1/write`);
  }
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (parsed?.protocol !== 'http:' && parsed?.protocol !== 'https:') {
    throw usageError(`${EXPORTER_ENV.remoteWriteUrl} must be an http:// or https:// URL; got "${url}".`);
  }
  const { pushIntervalMs, job, instance } = fromEnv(env, ['pushIntervalMs', 'job', 'instance']);
  return {
    url,
    pushIntervalMs,
    auth: authFromEnv(env),
    job: job ?? EXPORTER_OPTIONS.job.default,
    instance: instance ?? hostname(),
  };
}

function authFromEnv(env: Env): RemoteWriteAuth | undefined {
  const { bearerToken, username, password } = fromEnv(env, ['bearerToken', 'username', 'password']);
  if (bearerToken !== undefined && (username !== undefined || password !== undefined)) {
    throw usageError(`Set either ${EXPORTER_ENV.bearerToken} or ${EXPORTER_ENV.username}/${EXPORTER_ENV.password}, not both.`);
  }
  if (bearerToken !== undefined) return { bearerToken };
  if ((username === undefined) !== (password === undefined)) {
    throw usageError(`${EXPORTER_ENV.username} and ${EXPORTER_ENV.password} go together; only one is set.`);
  }
  return username === undefined ? undefined : { username, password: password! };
}
