// The exporters' environment variables (the sampler's own, such as WATTMETER_RATE_HZ, are
// read by optionsFromEnv). A missing or malformed value is a usage error at start.
import { hostname } from 'node:os';
import { usageError } from '../errors.js';
import { parseNumber } from '../options.js';
import type { MetricsServerOptions } from '../prometheus/http.js';
import type { MultirateExporterOptions } from './multirate.js';
import type { RemoteWriteAuth, RemoteWriteOptions } from './remote-write.js';

export const EXPORTER_ENV = {
  host: 'WATTMETER_HOST',
  port: 'WATTMETER_PORT',
  multirateWindowMs: 'WATTMETER_MULTIRATE_WINDOW_MS',
  remoteWriteUrl: 'WATTMETER_REMOTE_WRITE_URL',
  pushIntervalMs: 'WATTMETER_PUSH_INTERVAL_MS',
  bearerToken: 'WATTMETER_REMOTE_WRITE_BEARER_TOKEN',
  username: 'WATTMETER_REMOTE_WRITE_USERNAME',
  password: 'WATTMETER_REMOTE_WRITE_PASSWORD',
  job: 'WATTMETER_JOB',
  instance: 'WATTMETER_INSTANCE',
} as const;

export const DEFAULT_PORTS = { simple: 9091, multirate: 9092 } as const;

type Env = NodeJS.ProcessEnv;

/** A variable's value; an empty one counts as unset, as most shells make that easy. */
function read(env: Env, key: keyof typeof EXPORTER_ENV): string | undefined {
  const value = env[EXPORTER_ENV[key]];
  return value === '' ? undefined : value;
}

function integer(text: string, name: string, min: number, max: number): number {
  const value = parseNumber(text, name, min, max);
  if (!Number.isInteger(value)) throw usageError(`${name} must be a whole number; got ${text}.`);
  return value;
}

/** WATTMETER_HOST (default: all interfaces) and WATTMETER_PORT. */
export function serverOptionsFromEnv(defaultPort: number, env: Env = process.env): MetricsServerOptions {
  const port = read(env, 'port');
  return {
    host: read(env, 'host'),
    port: port === undefined ? defaultPort : integer(port, EXPORTER_ENV.port, 0, 65535),
  };
}

/**
 * The multirate exporter's server options and WATTMETER_MULTIRATE_WINDOW_MS (1 s to
 * 10 min; the window is kept in memory, about 6 MB per domain for 30 s at 1 kHz).
 */
export function multirateOptionsFromEnv(env: Env = process.env): Omit<MultirateExporterOptions, 'sampler'> {
  const window = read(env, 'multirateWindowMs');
  return {
    ...serverOptionsFromEnv(DEFAULT_PORTS.multirate, env),
    windowMs: window === undefined ? undefined : integer(window, EXPORTER_ENV.multirateWindowMs, 1000, 600_000),
  };
}

/** WATTMETER_REMOTE_WRITE_URL (required), the push interval, auth, job and instance. */
export function remoteWriteOptionsFromEnv(
  env: Env = process.env,
): Pick<RemoteWriteOptions, 'url' | 'pushIntervalMs' | 'auth' | 'job' | 'instance'> {
  const url = read(env, 'remoteWriteUrl');
  if (url === undefined) {
    throw usageError(`${EXPORTER_ENV.remoteWriteUrl} is required, e.g. http://localhost:9090/api/v1/write`);
  }
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (parsed?.protocol !== 'http:' && parsed?.protocol !== 'https:') {
    throw usageError(`${EXPORTER_ENV.remoteWriteUrl} must be an http:// or https:// URL; got "${url}".`);
  }
  const interval = read(env, 'pushIntervalMs');
  return {
    url,
    pushIntervalMs: interval === undefined ? undefined : integer(interval, EXPORTER_ENV.pushIntervalMs, 10, 3_600_000),
    auth: authFromEnv(env),
    job: read(env, 'job') ?? 'wattmeter',
    instance: read(env, 'instance') ?? hostname(),
  };
}

function authFromEnv(env: Env): RemoteWriteAuth | undefined {
  const bearerToken = read(env, 'bearerToken');
  const username = read(env, 'username');
  const password = read(env, 'password');
  if (bearerToken !== undefined && (username !== undefined || password !== undefined)) {
    throw usageError(`Set either ${EXPORTER_ENV.bearerToken} or ${EXPORTER_ENV.username}/${EXPORTER_ENV.password}, not both.`);
  }
  if (bearerToken !== undefined) return { bearerToken };
  if ((username === undefined) !== (password === undefined)) {
    throw usageError(`${EXPORTER_ENV.username} and ${EXPORTER_ENV.password} go together; only one is set.`);
  }
  return username === undefined ? undefined : { username, password: password! };
}
