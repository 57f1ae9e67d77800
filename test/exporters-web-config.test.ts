// TLS and basic auth on /metrics from an exporter-toolkit web config file (the one
// node_exporter reads): a real Prometheus scrapes over TLS with a client certificate and
// basic auth and is refused without them; every mistake in the file is a clear usage error.
// The certificates are made here with openssl.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { WattmeterError } from '../lib/index.js';
import { BasicAuth } from '../lib/prometheus/basic-auth.js';
import { serveMetrics, type MetricsServerOptions } from '../lib/prometheus/http.js';
import { TEXT_FORMAT } from '../lib/prometheus/text.js';
import { loadWebConfig } from '../lib/prometheus/web-config.js';
import { get, type GetOptions } from '../fixtures/http-client.js';
import { Prometheus } from '../fixtures/prometheus.js';

const PASSWORD = 'correct horse battery staple';
const HASH = bcrypt.hashSync(PASSWORD, 10);
const BASIC = `Basic ${Buffer.from(`prometheus:${PASSWORD}`).toString('base64')}`;

// A CA, a server certificate for 127.0.0.1 from it, a client certificate from it, and one
// from another CA: the wrong client certificate.
const DIR = mkdtempSync(path.join(tmpdir(), 'wattmeter-web-config-'));
test.after.always(() => rmSync(DIR, { recursive: true, force: true }));
const file = (name: string) => path.join(DIR, name);
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: DIR, stdio: 'pipe' });
function issue(name: string, subject: string, ca?: string, san?: string): void {
  openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${subject}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
  const extensions = ca ? `basicConstraints=critical,CA:FALSE\nsubjectAltName=${san}\n` : 'basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign\n';
  writeFileSync(file(`${name}.ext`), extensions);
  const signer = ca ? ['-CA', `${ca}.crt`, '-CAkey', `${ca}.key`] : ['-signkey', `${name}.key`];
  openssl('x509', '-req', '-in', `${name}.csr`, '-days', '2', ...signer, '-extfile', `${name}.ext`, '-out', `${name}.crt`);
}
issue('ca', 'wattmeter test CA');
issue('other-ca', 'someone else');
issue('server', 'localhost', 'ca', 'IP:127.0.0.1,DNS:localhost');
issue('client', 'prometheus', 'ca', 'DNS:prometheus.test');
issue('wrong-client', 'prometheus', 'other-ca', 'DNS:prometheus.test');
const pem = (name: string) => readFileSync(file(name));
const CLIENT: GetOptions = { ca: pem('ca.crt'), cert: pem('client.crt'), key: pem('client.key') };

let configs = 0;
/** A web config file in DIR (JSON is YAML), its certificate paths relative to it. */
function webConfig(content: unknown): string {
  const name = file(`web-${configs++}.yml`);
  writeFileSync(name, typeof content === 'string' ? content : JSON.stringify(content));
  return name;
}

async function server(t: import('ava').ExecutionContext, config: unknown, options: MetricsServerOptions = {}) {
  const webConfigFile = webConfig(config);
  const s = await serveMetrics({ port: 0, webConfigFile, ...options }, () => ({ contentType: TEXT_FORMAT, chunks: [Buffer.from('tls_test 42\n')] }));
  t.teardown(() => s.close());
  return s;
}

const SECURE = {
  tls_server_config: { cert_file: 'server.crt', key_file: 'server.key', client_auth_type: 'RequireAndVerifyClientCert', client_ca_file: 'ca.crt' },
  http_server_config: { headers: { 'X-Content-Type-Options': 'nosniff', 'Strict-Transport-Security': 'max-age=31536000' } },
  basic_auth_users: { prometheus: HASH },
};

test.serial('Prometheus scrapes over TLS with a client certificate and basic auth; without them it is refused', async (t) => {
  const s = await server(t, SECURE);
  t.regex(s.url, /^https:\/\/127\.0\.0\.1:\d+\/metrics$/);
  const tls = { caFile: file('ca.crt'), certFile: file('client.crt'), keyFile: file('client.key') };
  const basicAuth = { username: 'prometheus', password: PASSWORD };
  const prometheus = await Prometheus.start({
    targets: [
      { job: 'good', url: s.url, tls, basicAuth },
      { job: 'no-password', url: s.url, tls },
      { job: 'wrong-password', url: s.url, tls, basicAuth: { username: 'prometheus', password: 'guess' } },
      { job: 'wrong-certificate', url: s.url, tls: { ...tls, certFile: file('wrong-client.crt'), keyFile: file('wrong-client.key') }, basicAuth },
      { job: 'no-certificate', url: s.url, tls: { caFile: tls.caFile }, basicAuth },
    ],
    scrapeIntervalMs: 1000,
  });
  t.teardown(() => prometheus.remove());
  await prometheus.scraped('good');
  await new Promise((resolve) => setTimeout(resolve, 3000));
  t.deepEqual(Object.fromEntries(await prometheus.queryBy('max_over_time(up[1m])', 'job')), {
    good: 1,
    'no-password': 0,
    'wrong-password': 0,
    'wrong-certificate': 0,
    'no-certificate': 0,
  });
  t.deepEqual([...(await prometheus.queryBy('tls_test', 'job')).entries()], [['good', 42]]);
  const { data } = (await (await fetch(`${prometheus.url}/api/v1/targets`)).json()) as {
    data: { activeTargets: { labels: { job: string }; lastError: string }[] };
  };
  const errors = Object.fromEntries(data.activeTargets.map((target) => [target.labels.job, target.lastError]));
  t.regex(errors['no-password'], /401/);
  t.regex(errors['wrong-password'], /401/);
  // A missing certificate fails the handshake with an alert. Node refuses a certificate from
  // another CA by closing the connection, with no alert to name the reason; Go words the close
  // by when it reads it (EOF, a reset, a closed idle connection...). Never an HTTP answer.
  t.regex(errors['no-certificate'], /: remote error: tls: certificate required$/);
  t.regex(errors['wrong-certificate'], /^Get "https:\/\/127\.0\.0\.1:\d+\/metrics": ./);
  t.notRegex(errors['wrong-certificate'], /HTTP status/);
});

test('the same by hand: 401 with WWW-Authenticate, no handshake without the right certificate, the headers', async (t) => {
  const s = await server(t, SECURE);
  const ok = await get(s.url, { ...CLIENT, headers: { Authorization: BASIC } });
  t.is(ok.status, 200);
  t.is(ok.body.toString(), 'tls_test 42\n');
  t.is(ok.headers['x-content-type-options'], 'nosniff');
  t.is(ok.headers['strict-transport-security'], 'max-age=31536000');
  for (const authorization of [undefined, `Basic ${Buffer.from('prometheus:guess').toString('base64')}`, `Basic ${Buffer.from(`nobody:${PASSWORD}`).toString('base64')}`, 'Bearer x']) {
    const refused = await get(s.url, { ...CLIENT, headers: authorization ? { Authorization: authorization } : {} });
    t.is(refused.status, 401, authorization);
    t.regex(refused.headers['www-authenticate']!, /^Basic realm=/);
  }
  t.is((await get(new URL('/', s.url).href, CLIENT)).status, 401); // every path needs the password
  await t.throwsAsync(get(s.url, { ...CLIENT, cert: pem('wrong-client.crt'), key: pem('wrong-client.key'), headers: { Authorization: BASIC } }));
  await t.throwsAsync(get(s.url, { ca: CLIENT.ca, headers: { Authorization: BASIC } }));
  await t.throwsAsync(get(s.url.replace('https:', 'http:'), { headers: { Authorization: BASIC } }));
});

test('client_allowed_sans, VerifyClientCertIfGiven and inline PEM', async (t) => {
  const inline = { cert: pem('server.crt').toString(), key: pem('server.key').toString(), client_ca: pem('ca.crt').toString() };
  const allowed = await server(t, { tls_server_config: { ...inline, client_auth_type: 'RequireAndVerifyClientCert', client_allowed_sans: ['prometheus.test'] } });
  t.is((await get(allowed.url, CLIENT)).status, 200);
  const other = await server(t, { tls_server_config: { ...inline, client_auth_type: 'RequireAndVerifyClientCert', client_allowed_sans: ['grafana.test'] } });
  await t.throwsAsync(get(other.url, CLIENT));
  const ifGiven = await server(t, { tls_server_config: { ...inline, client_auth_type: 'VerifyClientCertIfGiven' } });
  t.is((await get(ifGiven.url, { ca: CLIENT.ca })).status, 200);
  t.is((await get(ifGiven.url, CLIENT)).status, 200);
  await t.throwsAsync(get(ifGiven.url, { ...CLIENT, cert: pem('wrong-client.crt'), key: pem('wrong-client.key') }));
});

test('a file without TLS keeps plain HTTP; http2 is accepted; rate_limit answers 429', async (t) => {
  const plain = await server(t, 'http_server_config:\n  http2: yes\nrate_limit:\n  interval: 1m\n  burst: 2\n');
  t.regex(plain.url, /^http:/);
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await get(plain.url)).status);
  t.deepEqual(statuses, [200, 200, 429, 429]);
  const empty = await server(t, '');
  t.is((await get(empty.url)).status, 200);
});

test('every mistake in the file is a usage error naming the file and the key', (t) => {
  const cases: [unknown, RegExp][] = [
    ['tls_server_config: [\n', /not valid YAML/],
    ['basic_auth_users:\n  a: $2y$10$x\n  a: $2y$10$y\n', /not valid YAML.*[Mm]ap keys must be unique/s],
    [{ tls_config: {} }, /: tls_config: unknown key \(known: tls_server_config, http_server_config, basic_auth_users, rate_limit\)/],
    [{ tls_server_config: { certfile: 'server.crt' } }, /tls_server_config\.certfile: unknown key/],
    [{ tls_server_config: { key_file: 'server.key' } }, /tls_server_config: missing one of cert or cert_file/],
    [{ tls_server_config: { cert_file: 'server.crt' } }, /tls_server_config: missing one of key or key_file/],
    [{ tls_server_config: { cert_file: 'missing.crt', key_file: 'server.key' } }, /tls_server_config\.cert_file: cannot read .*missing\.crt/],
    [{ tls_server_config: { ...SECURE.tls_server_config, client_auth_type: 'Always' } }, /client_auth_type: unknown "Always"/],
    [{ tls_server_config: { cert_file: 'server.crt', key_file: 'server.key', client_ca_file: 'ca.crt' } }, /client CAs are configured without a client auth policy/],
    [{ tls_server_config: { cert_file: 'server.crt', key_file: 'server.key', min_version: 'TLS9' } }, /min_version: unknown TLS version "TLS9"/],
    [{ tls_server_config: { cert_file: 'server.crt', key_file: 'server.key', cipher_suites: ['TLS_RSA_WITH_RC4_128_SHA'] } }, /cipher_suites: unknown or insecure cipher suite/],
    [{ tls_server_config: { cert_file: 'server.crt', key_file: 'server.key', curve_preferences: ['P256'] } }, /curve_preferences: unknown curve "P256"/],
    [{ http_server_config: { headers: { 'X-Powered-By': 'wattmeter' } } }, /http_server_config\.headers\.X-Powered-By: unknown key/],
    [{ http_server_config: { headers: { 'X-Frame-Options': 'allow' } } }, /X-Frame-Options: must be one of deny, sameorigin/],
    [{ basic_auth_users: { alice: 'plaintext' } }, /basic_auth_users\.alice: is not a bcrypt hash/],
    [{ basic_auth_users: { alice: `$2x$10$${HASH.slice(7)}` } }, /basic_auth_users\.alice: is not a bcrypt hash/],
    [{ basic_auth_users: { alice: `$2a$03$${HASH.slice(7)}` } }, /basic_auth_users\.alice: is not a bcrypt hash/],
    [{ basic_auth_users: ['alice'] }, /basic_auth_users: must be a mapping/],
    [{ rate_limit: { interval: 'often' } }, /rate_limit\.interval: must be a duration/],
  ];
  for (const [content, message] of cases) {
    const name = webConfig(content);
    const error = t.throws(() => loadWebConfig(name), { instanceOf: WattmeterError }, String(message));
    t.is(error?.kind, 'usage');
    t.true(error?.message.startsWith(`Web config ${name}: `), error?.message);
    t.regex(error?.message ?? '', message);
  }
  t.throws(() => loadWebConfig(file('nowhere.yml')), { message: /Web config .*nowhere\.yml: cannot read it/ });
});

test('serveMetrics refuses to start on a bad file', async (t) => {
  const error = await t.throwsAsync(serveMetrics({ port: 0, webConfigFile: webConfig({ basic_auth_users: { a: 'b' } }) }, () => ({ contentType: TEXT_FORMAT, chunks: [] })));
  t.is((error as WattmeterError).kind, 'usage');
});

test('the toolkit options map onto Node TLS options; paths resolve against the file', (t) => {
  const config = loadWebConfig(
    webConfig({
      tls_server_config: {
        cert_file: 'server.crt',
        key_file: file('server.key'),
        min_version: 'TLS13',
        cipher_suites: ['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_AES_128_GCM_SHA256'],
        curve_preferences: ['X25519', 'CurveP256'],
        prefer_server_cipher_suites: false,
      },
    }),
  );
  const options = config.tls!.options;
  t.is(options.cert, pem('server.crt').toString());
  t.is(options.minVersion, 'TLSv1.3');
  t.is(options.maxVersion, 'TLSv1.3');
  t.regex(options.ciphers!, /^TLS_.*:ECDHE-ECDSA-AES128-GCM-SHA256$/);
  t.is(options.ecdhCurve, 'X25519:P-256');
  t.false(options.honorCipherOrder);
  t.false(options.requestCert);
});

test('a bcrypt is paid once per user and password, not per scrape', async (t) => {
  const auth = new BasicAuth(new Map([['prometheus', HASH]]));
  let started = performance.now();
  t.is(await auth.check(BASIC), 'ok');
  const firstMs = performance.now() - started;
  started = performance.now();
  for (let i = 0; i < 50; i++) t.is(await auth.check(BASIC), 'ok');
  const cachedMs = performance.now() - started;
  t.true(cachedMs < firstMs / 2, `50 cached checks took ${cachedMs.toFixed(1)} ms, one bcrypt ${firstMs.toFixed(1)} ms`);
  t.is(await auth.check(`Basic ${Buffer.from('prometheus:guess').toString('base64')}`), 'denied');
  t.is(await auth.check(`Basic ${Buffer.from(`nobody:${PASSWORD}`).toString('base64')}`), 'denied');
  t.is(await auth.check(undefined), 'denied');
  t.is(await auth.check('Basic !!!'), 'denied');
});
