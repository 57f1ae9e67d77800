// The web configuration file of the Prometheus exporter toolkit (the file node_exporter's
// --web.config.file reads), so that an operator can reuse it: TLS for /metrics, client
// certificates, basic auth users with bcrypt hashes, a few security headers and a rate
// limit. Read and checked once at start; every mistake is a usage error naming the file
// and the key. The format: docs/web-configuration.md of prometheus/exporter-toolkit.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_CIPHERS, type TlsOptions } from 'node:tls';
import { parse } from 'yaml';
import { usageError } from '../errors.js';

/** The policy for client certificates, by its Go name (crypto/tls ClientAuthType). */
export type ClientAuthType =
  | 'NoClientCert'
  | 'RequestClientCert'
  | 'RequireAnyClientCert'
  | 'VerifyClientCertIfGiven'
  | 'RequireAndVerifyClientCert';

export interface WebTlsConfig {
  /** Options for https.createServer: key, cert, ca, versions, ciphers, curves. */
  options: TlsOptions;
  clientAuth: ClientAuthType;
  /** If set, the client certificate must carry one of these subject alternative names. */
  allowedSans?: readonly string[];
}

export interface WebConfig {
  /** The file it was read from (absolute). */
  file: string;
  /** Absent: plain HTTP. */
  tls?: WebTlsConfig;
  /** Extra response headers (only the security headers the toolkit allows). */
  headers: Readonly<Record<string, string>>;
  /** User name -> bcrypt hash; empty: no authentication. */
  users: ReadonlyMap<string, string>;
  /** A token bucket over all requests: one token per intervalMs, at most burst. */
  rateLimit?: { intervalMs: number; burst: number };
}

// A bcrypt hash as htpasswd -B and the Go, C and JS libraries write it: version, cost, then
// 22 characters of salt and 31 of hash in bcrypt's base 64.
const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;

// Go's crypto/tls names of the cipher suites it calls secure (tls.CipherSuites(), all the
// toolkit accepts), with OpenSSL's names. The TLS 1.3 suites are not configurable in Go
// and are ignored there; so they are here.
const CIPHERS: Readonly<Record<string, string | null>> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_AES_128_GCM_SHA256: null,
  TLS_AES_256_GCM_SHA384: null,
  TLS_CHACHA20_POLY1305_SHA256: null,
};
const CURVES: Readonly<Record<string, string>> = { CurveP256: 'P-256', CurveP384: 'P-384', CurveP521: 'P-521', X25519: 'X25519' };
const VERSIONS: Readonly<Record<string, TlsOptions['minVersion']>> = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' };
const CLIENT_AUTH: readonly ClientAuthType[] = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
];
// The response headers the toolkit lets a file set, with the values it accepts (any if none).
const HEADERS: Readonly<Record<string, readonly string[] | undefined>> = {
  'Strict-Transport-Security': undefined,
  'X-Content-Type-Options': ['nosniff'],
  'X-Frame-Options': ['deny', 'sameorigin'],
  'X-XSS-Protection': undefined,
  'Content-Security-Policy': undefined,
};

type Fields = Record<string, unknown>;

/** Reads and checks a web configuration file; throws a usage error naming the file and key. */
export function loadWebConfig(file: string): WebConfig {
  const absolute = path.resolve(file);
  const fail = (key: string, message: string) => usageError(`Web config ${absolute}: ${key ? `${key}: ` : ''}${message}`);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    throw fail('', `cannot read it (${(error as Error).message}).`);
  }
  let parsed: unknown;
  try {
    // YAML 1.1, as the toolkit's Go parser (yaml.v2) reads it: `http2: yes` is true there.
    parsed = parse(text, { version: '1.1', uniqueKeys: true });
  } catch (error) {
    throw fail('', `not valid YAML: ${(error as Error).message}`);
  }
  const root = section(parsed ?? {}, '', fail, ['tls_server_config', 'http_server_config', 'basic_auth_users', 'rate_limit']);
  const dir = path.dirname(absolute);
  const tls = root.tls_server_config === undefined ? undefined : tlsConfig(root.tls_server_config, dir, fail);
  const http = section(root.http_server_config ?? {}, 'http_server_config', fail, ['http2', 'headers']);
  // http2 is accepted for compatibility and has no effect: this server speaks HTTP/1.1
  // (Prometheus scrapes over HTTP/1.1 unless told otherwise).
  if (http.http2 !== undefined && typeof http.http2 !== 'boolean') throw fail('http_server_config.http2', 'must be true or false.');
  return {
    file: absolute,
    tls,
    headers: headers(http.headers ?? {}, fail),
    users: users(root.basic_auth_users ?? {}, fail),
    rateLimit: root.rate_limit === undefined ? undefined : rateLimit(root.rate_limit, fail),
  };
}

type Fail = (key: string, message: string) => Error;

/** A mapping with only the given keys. */
function section(value: unknown, key: string, fail: Fail, keys: readonly string[]): Fields {
  if (value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw fail(key, 'must be a mapping.');
  for (const k of Object.keys(value)) {
    if (!keys.includes(k)) throw fail(key ? `${key}.${k}` : k, `unknown key (known: ${keys.join(', ')}).`);
  }
  return value as Fields;
}

function string(value: unknown, key: string, fail: Fail): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw fail(key, 'must be a string.');
  return value;
}

function strings(value: unknown, key: string, fail: Fail): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw fail(key, 'must be a list of strings.');
  return value as string[];
}

function tlsConfig(value: unknown, dir: string, fail: Fail): WebTlsConfig | undefined {
  const K = 'tls_server_config';
  const c = section(value, K, fail, [
    'cert',
    'key',
    'client_ca',
    'cert_file',
    'key_file',
    'client_auth_type',
    'client_ca_file',
    'client_allowed_sans',
    'min_version',
    'max_version',
    'cipher_suites',
    'prefer_server_cipher_suites',
    'curve_preferences',
  ]);
  const str = (k: string) => string(c[k], `${K}.${k}`, fail);
  // A file named relative to the config file's directory, as the toolkit resolves it.
  const read = (k: string): string | undefined => {
    const name = str(k);
    if (name === undefined) return undefined;
    const file = path.resolve(dir, name);
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      throw fail(`${K}.${k}`, `cannot read ${file} (${(error as Error).message}).`);
    }
  };
  const either = (inline: string, file: string): string | undefined => {
    if (str(inline) !== undefined && str(file) !== undefined) throw fail(K, `give ${inline} or ${file}, not both.`);
    return str(inline) ?? read(file);
  };
  const clientAuth = (str('client_auth_type') ?? 'NoClientCert') as ClientAuthType;
  // RequireClientCert is the toolkit's old name, still accepted there.
  const auth = (clientAuth as string) === 'RequireClientCert' ? 'RequireAnyClientCert' : clientAuth;
  if (!CLIENT_AUTH.includes(auth)) throw fail(`${K}.client_auth_type`, `unknown "${clientAuth}" (known: ${CLIENT_AUTH.join(', ')}).`);
  // As in the toolkit, TLS is on when any of these is set, and then needs a certificate and key.
  const enabled = ['cert', 'key', 'cert_file', 'key_file', 'client_ca', 'client_ca_file', 'client_auth_type'].some((k) => str(k));
  if (!enabled) return undefined;
  const cert = either('cert', 'cert_file');
  const key = either('key', 'key_file');
  if (cert === undefined) throw fail(K, 'missing one of cert or cert_file.');
  if (key === undefined) throw fail(K, 'missing one of key or key_file.');
  const ca = either('client_ca', 'client_ca_file');
  if (ca !== undefined && auth === 'NoClientCert') {
    throw fail(`${K}.client_auth_type`, 'client CAs are configured without a client auth policy (e.g. RequireAndVerifyClientCert).');
  }
  const version = (k: string, fallback: string) => {
    const name = str(k) ?? fallback;
    if (!(name in VERSIONS)) throw fail(`${K}.${k}`, `unknown TLS version "${name}" (known: ${Object.keys(VERSIONS).join(', ')}).`);
    return VERSIONS[name];
  };
  const options: TlsOptions = {
    cert,
    key,
    ca,
    minVersion: version('min_version', 'TLS12'),
    maxVersion: version('max_version', 'TLS13'),
    requestCert: auth !== 'NoClientCert',
    // Only RequireAndVerifyClientCert fails the handshake; the others are checked after it.
    rejectUnauthorized: auth === 'RequireAndVerifyClientCert',
  };
  const ciphers = strings(c.cipher_suites, `${K}.cipher_suites`, fail);
  if (ciphers?.length) {
    const names = ciphers.map((name) => {
      if (!(name in CIPHERS)) throw fail(`${K}.cipher_suites`, `unknown or insecure cipher suite "${name}" (use Go's names, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256).`);
      return CIPHERS[name];
    });
    // Node turns TLS 1.3 off if the list has none of its suites: keep its defaults, as Go does.
    const tls13 = DEFAULT_CIPHERS.split(':').filter((s) => s.startsWith('TLS_'));
    const tls12 = names.filter((n): n is string => n !== null);
    if (tls12.length) options.ciphers = [...tls13, ...tls12].join(':');
  }
  const prefer = c.prefer_server_cipher_suites ?? true;
  if (typeof prefer !== 'boolean') throw fail(`${K}.prefer_server_cipher_suites`, 'must be true or false.');
  options.honorCipherOrder = prefer;
  const curves = strings(c.curve_preferences, `${K}.curve_preferences`, fail);
  if (curves?.length) {
    options.ecdhCurve = curves
      .map((name) => {
        if (!(name in CURVES)) throw fail(`${K}.curve_preferences`, `unknown curve "${name}" (known: ${Object.keys(CURVES).join(', ')}).`);
        return CURVES[name];
      })
      .join(':');
  }
  const allowedSans = strings(c.client_allowed_sans, `${K}.client_allowed_sans`, fail);
  if (allowedSans && auth !== 'RequireAndVerifyClientCert' && auth !== 'VerifyClientCertIfGiven') {
    throw fail(`${K}.client_allowed_sans`, 'needs a client auth policy that verifies certificates (RequireAndVerifyClientCert).');
  }
  return { options, clientAuth: auth, allowedSans };
}

function headers(value: unknown, fail: Fail): Record<string, string> {
  const K = 'http_server_config.headers';
  const h = section(value, K, fail, Object.keys(HEADERS));
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(h)) {
    const text = string(v, `${K}.${name}`, fail);
    if (text === undefined) continue; // blank: unset
    const allowed = HEADERS[name];
    if (allowed && !allowed.includes(text)) throw fail(`${K}.${name}`, `must be one of ${allowed.join(', ')}; got "${text}".`);
    out[name] = text;
  }
  return out;
}

function users(value: unknown, fail: Fail): Map<string, string> {
  const K = 'basic_auth_users';
  if (value === null) return new Map();
  if (typeof value !== 'object' || Array.isArray(value)) throw fail(K, 'must be a mapping of user names to bcrypt hashes.');
  const out = new Map<string, string>();
  for (const [user, hash] of Object.entries(value)) {
    const match = typeof hash === 'string' ? BCRYPT.exec(hash) : null;
    const cost = match ? Number(match[1]) : 0;
    if (!match || cost < 4 || cost > 31) {
      throw fail(`${K}.${user}`, 'is not a bcrypt hash ($2a$, $2b$ or $2y$, a cost of 04 to 31, 53 characters of salt and hash); make one with `htpasswd -nBC 10 "" | tr -d \':\\n\'`.');
    }
    if (user.includes(':')) throw fail(`${K}.${user}`, 'a user name cannot contain ":" (basic auth splits on it).');
    out.set(user, hash as string);
  }
  return out;
}

function rateLimit(value: unknown, fail: Fail): WebConfig['rateLimit'] {
  const K = 'rate_limit';
  const r = section(value, K, fail, ['interval', 'burst']);
  const intervalMs = duration(r.interval ?? 0, `${K}.interval`, fail);
  const burst = r.burst ?? 0;
  if (typeof burst !== 'number' || !Number.isInteger(burst) || burst < 0) throw fail(`${K}.burst`, 'must be a whole number, 0 or more.');
  return intervalMs === 0 ? undefined : { intervalMs, burst }; // an interval of 0 turns it off
}

const UNITS_MS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration ("1s", "1m30s", "250ms"), or an integer of nanoseconds as yaml.v2 reads one. */
function duration(value: unknown, key: string, fail: Fail): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value / 1e6;
  if (typeof value === 'string' && /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(value)) {
    return [...value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)].reduce((ms, [, n, unit]) => ms + Number(n) * UNITS_MS[unit], 0);
  }
  if (value === '0') return 0;
  throw fail(key, `must be a duration such as 1s or 250ms; got ${JSON.stringify(value)}.`);
}
