// The monitoring stack's files (docker/, prometheus/, grafana/), checked with the tools
// CI installs: docker-compose (Debian's, validates without a Docker engine), yamllint,
// promtool. No Docker engine runs here: stack-dashboard.test.ts runs what the containers
// run natively (prometheus/entrypoint.sh included), stack-image.test.ts replays the
// Dockerfile's runtime stage.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url)); // dist/test -> repository
const repo = (...parts: string[]) => path.join(ROOT, ...parts);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion; never rejects, so a test can assert on the failure. */
function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { cwd: options.cwd ?? ROOT, env: options.env ?? process.env }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr: stderr || (error && typeof error.code !== 'number' ? String(error) : '') });
    });
    child.stdin!.on('error', () => {}); // EPIPE from a program that exits without reading
    child.stdin!.end(options.input);
  });
}

/** Parses YAML with python3-yaml, which docker-compose and yamllint depend on. */
async function parseYaml(text: string): Promise<any> {
  const result = await run('/usr/bin/python3', ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], { input: text });
  if (result.code !== 0) throw new Error(`python3 yaml: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/** The environment without the stack's variables, as on a fresh clone. */
function freshEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(GF_|WATTMETER_|PROMETHEUS_|COMPOSE_)/.test(key)));
  return { ...env, ...extra };
}

const PASSWORD = 'test-only-password';

const composeConfigs = new Map<string, Promise<any>>();

/**
 * `docker-compose config` as a user runs it, from the repository root with -f, the
 * password supplied. Each set of files is rendered once: docker-compose takes a second
 * of CPU, and other tests share the machine.
 */
function composeConfig(files: string[]): Promise<any> {
  const key = files.join(' ');
  if (!composeConfigs.has(key)) {
    composeConfigs.set(key, (async () => {
      const env = freshEnv({ GF_ADMIN_PASSWORD: PASSWORD });
      const result = await run('docker-compose', files.flatMap((file) => ['-f', file]).concat('config'), { env });
      if (result.code !== 0) throw new Error(`docker-compose config failed:\n${result.stderr}`);
      return parseYaml(result.stdout);
    })());
  }
  return composeConfigs.get(key)!;
}

/** The shipped .env as a map (Compose's syntax: KEY=value, # comments). */
function dotEnv(): Map<string, string> {
  const entries = readFileSync(repo('docker/.env'), 'utf8').split('\n')
    .filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'))
    .map((line) => {
      const at = line.indexOf('=');
      return [line.slice(0, at), line.slice(at + 1)] as [string, string];
    });
  return new Map(entries);
}

const EXPORTERS = ['simple', 'multirate', 'remote-write'];

// ------------------------------------------------------------------------------ Compose

test('the shipped .env holds no Grafana password, and Compose refuses to start without one', async (t) => {
  t.is(dotEnv().get('GF_ADMIN_PASSWORD'), '');
  const result = await run('docker-compose', ['-f', 'docker/compose.yaml', 'config'], { env: freshEnv() });
  t.not(result.code, 0);
  t.regex(result.stderr, /set GF_ADMIN_PASSWORD in docker\/\.env/);
});

test('docker-compose config accepts the stack from the repository root and from docker/', async (t) => {
  const fromRoot = await composeConfig(['docker/compose.yaml']);
  const fromDocker = await run('docker-compose', ['config'], { cwd: repo('docker'), env: freshEnv({ GF_ADMIN_PASSWORD: PASSWORD }) });
  t.is(fromDocker.code, 0, fromDocker.stderr);
  t.deepEqual(await parseYaml(fromDocker.stdout), fromRoot);
  t.deepEqual(Object.keys(fromRoot.services).sort(), ['grafana', 'multirate', 'prometheus', 'remote-write', 'simple']);
  // Relative paths resolve against docker/, wherever Compose was started.
  t.true(fromRoot.services.prometheus.volumes.includes(`${repo('prometheus')}:/wattmeter:ro`));
  t.is(fromRoot.services.simple.build.context, ROOT.replace(/\/$/, ''));
});

test('image versions come from .env, with a Prometheus that keeps the multirate samples', async (t) => {
  const env = dotEnv();
  const config = await composeConfig(['docker/compose.yaml']);
  t.regex(env.get('PROMETHEUS_VERSION')!, /^v3\.\d+\.\d+$/);
  t.is(config.services.prometheus.image, `prom/prometheus:${env.get('PROMETHEUS_VERSION')}`);
  t.is(config.services.grafana.image, `grafana/grafana:${env.get('GRAFANA_VERSION')}`);
  for (const name of EXPORTERS) t.is(config.services[name].build.args.NODE_VERSION, env.get('NODE_VERSION'));
  // An LTS line still supported on 2026-12-01 (Node 20 ended in April 2026).
  t.true([22, 24].includes(Number(env.get('NODE_VERSION')!.split('.')[0])), `NODE_VERSION ${env.get('NODE_VERSION')}`);
  // Bounded on disk as well as in time: 1 kHz series are large.
  t.true(config.services.prometheus.command.includes(`--storage.tsdb.retention.size=${env.get('PROMETHEUS_RETENTION_SIZE')}`));
});

test('the multirate window outlasts two missed scrapes at the shipped scrape interval, and reaches the exporter', async (t) => {
  const env = dotEnv();
  const scrape = /^(\d+)s$/.exec(env.get('PROMETHEUS_SCRAPE_INTERVAL')!);
  t.truthy(scrape, 'PROMETHEUS_SCRAPE_INTERVAL in whole seconds');
  const windowMs = Number(env.get('WATTMETER_MULTIRATE_WINDOW_MS'));
  t.true(windowMs >= 3 * Number(scrape![1]) * 1000 + 1000, `a ${windowMs} ms window for ${scrape![0]} scrapes`);
  const config = await composeConfig(['docker/compose.yaml']);
  t.is(config.services.multirate.environment.WATTMETER_MULTIRATE_WINDOW_MS, String(windowMs));
});

test('only Grafana is published, on 127.0.0.1; the remote-write receiver stays on the monitoring network', async (t) => {
  const config = await composeConfig(['docker/compose.yaml']);
  for (const [name, service] of Object.entries<any>(config.services)) {
    t.deepEqual(Object.keys(service.networks), ['monitoring'], name);
    if (name !== 'grafana') t.is(service.ports, undefined, `${name} publishes ports`);
  }
  t.deepEqual(config.services.grafana.ports, ['127.0.0.1:3000:3000/tcp']);
  t.is(config.networks.monitoring.driver, 'bridge');
  t.is(config.services.grafana.environment.GF_SECURITY_ADMIN_PASSWORD, PASSWORD);
  t.is(config.services['remote-write'].environment.WATTMETER_REMOTE_WRITE_URL, 'http://prometheus:9090/api/v1/write');
});

test('the exporters get the powercap and cgroup trees read-only and no capability beyond switching user', async (t) => {
  const config = await composeConfig(['docker/compose.yaml']);
  for (const name of EXPORTERS) {
    const service = config.services[name];
    const queue = name === 'remote-write' ? ['remote-write-queue:/app/queue:rw'] : [];
    t.deepEqual(service.volumes, ['/sys/class:/host/sys/class:ro', '/sys/devices:/host/sys/devices:ro', '/sys/fs/cgroup:/host/sys/fs/cgroup:ro', ...queue], name);
    t.is(service.environment.WATTMETER_CGROUP_ROOT, '/host/sys/fs/cgroup', name);
    t.is(service.pid, undefined, name); // the host's processes stay hidden
    t.deepEqual(service.cap_drop, ['ALL'], name);
    t.deepEqual([...service.cap_add].sort(), ['SETGID', 'SETUID'], name);
    t.is(service.devices, undefined, name);
    t.is(service.privileged, undefined, name);
    t.true(service.read_only, name);
    t.is(service.environment.WATTMETER_SYSFS_ROOT, '/host/sys', name);
    t.is(service.environment.WATTMETER_USER, 'node', name);
    t.deepEqual(service.command, ['node', 'dist/lib/cli.js', 'export', name], name);
    t.is(service.environment.WATTMETER_HOST, '0.0.0.0', name); // reachable on the private network only
  }
  t.is(config.services.simple.environment.WATTMETER_PORT, '9091');
  t.is(config.services.multirate.environment.WATTMETER_PORT, '9092');
});

test('compose.msr.yaml adds /dev/cpu and CAP_SYS_RAWIO to the exporters, nothing else', async (t) => {
  const base = await composeConfig(['docker/compose.yaml']);
  const msr = await composeConfig(['docker/compose.yaml', 'docker/compose.msr.yaml']);
  for (const name of EXPORTERS) {
    t.deepEqual(msr.services[name].devices, ['/dev/cpu:/dev/cpu'], name);
    t.deepEqual([...msr.services[name].cap_add].sort(), ['SETGID', 'SETUID', 'SYS_RAWIO'], name);
    t.is(msr.services[name].environment.WATTMETER_SOURCE, 'msr', name);
    // networks: docker-compose prints `monitoring: null` for one file, `{}` for two.
    const { devices, cap_add, environment, networks, ...rest } = msr.services[name];
    const { cap_add: baseCaps, environment: baseEnv, networks: baseNetworks, ...baseRest } = base.services[name];
    // Merging two files may reorder the volumes; the set is what counts.
    t.deepEqual({ ...rest, volumes: [...rest.volumes].sort() }, { ...baseRest, volumes: [...baseRest.volumes].sort() }, name);
    t.deepEqual({ ...environment, WATTMETER_SOURCE: baseEnv.WATTMETER_SOURCE }, baseEnv, name);
  }
  const override = await parseYaml(readFileSync(repo('docker/compose.msr.yaml'), 'utf8'));
  t.deepEqual(Object.keys(override.services), EXPORTERS);
});

test('yamllint passes on the stack YAML', async (t) => {
  const result = await run('yamllint', ['--strict', '-c', 'docker/yamllint.yaml', 'docker', 'grafana']);
  t.is(result.code, 0, result.stdout + result.stderr);
});

// --------------------------------------------------------------------------- Prometheus

/** Runs prometheus/write-config.sh with sh (dash here, busybox in the image). */
async function writeConfig(env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return run('sh', [repo('prometheus/write-config.sh'), '-'], { env: freshEnv(env) });
}

test('the generated prometheus.yml passes promtool check config and yamllint', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'wattmeter-stack-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'prometheus.yml');
  const written = await run('sh', [repo('prometheus/write-config.sh'), file], { env: freshEnv() });
  t.is(written.code, 0, written.stderr);
  const check = await run('promtool', ['check', 'config', file]);
  t.is(check.code, 0, check.stdout + check.stderr);
  const lint = await run('yamllint', ['--strict', '-c', 'docker/yamllint.yaml', file]);
  t.is(lint.code, 0, lint.stdout);
});

test('write-config.sh scrapes the services by name and takes its settings from the environment', async (t) => {
  const defaults = await parseYaml((await writeConfig()).stdout);
  t.is(defaults.global.scrape_interval, '5s');
  const targets = (config: any) => Object.fromEntries(config.scrape_configs.map((job: any) => [job.job_name, job.static_configs[0].targets]));
  t.deepEqual(targets(defaults), { 'wattmeter-simple': ['simple:9091'], 'wattmeter-multirate': ['multirate:9092'] });

  const custom = await writeConfig({
    PROMETHEUS_SCRAPE_INTERVAL: '1s',
    WATTMETER_SIMPLE_TARGETS: '127.0.0.1:1234,[::1]:1235',
    WATTMETER_MULTIRATE_TARGETS: 'localhost:1236',
  });
  t.is(custom.code, 0, custom.stderr);
  const config = await parseYaml(custom.stdout);
  t.is(config.global.scrape_interval, '1s');
  t.is(config.global.scrape_timeout, '1s');
  t.deepEqual(targets(config), { 'wattmeter-simple': ['127.0.0.1:1234', '[::1]:1235'], 'wattmeter-multirate': ['localhost:1236'] });
  t.true(config.scrape_configs.find((job: any) => job.job_name === 'wattmeter-multirate').honor_timestamps);
});

test('write-config.sh refuses values that would break the YAML or that Prometheus cannot read', async (t) => {
  for (const env of [
    { PROMETHEUS_SCRAPE_INTERVAL: '5s"\nfoo: bar' },
    { PROMETHEUS_SCRAPE_INTERVAL: '5' }, // no unit: promtool would refuse it later, in a restart loop
    { PROMETHEUS_SCRAPE_INTERVAL: 's5' },
    { PROMETHEUS_SCRAPE_TIMEOUT: 'soon' },
    { WATTMETER_SIMPLE_TARGETS: 'simple:9091"]' },
    { WATTMETER_MULTIRATE_TARGETS: 'a b' },
  ]) {
    const result = await writeConfig(env);
    t.is(result.code, 2, JSON.stringify(env));
    t.regex(result.stderr, new RegExp(`write-config.sh: ${Object.keys(env)[0]} must be`));
  }
});

// ------------------------------------------------------------------------------ Grafana

const DATASOURCE_FILE = 'grafana/provisioning/datasources/prometheus.yaml';

/** grafana.ini as { section: { key: value } } (; and # start comments). */
function parseIni(text: string): Record<string, Record<string, string>> {
  const sections: Record<string, Record<string, string>> = {};
  let section: Record<string, string> = (sections[''] = {});
  for (const line of text.split('\n').map((l) => l.trim())) {
    const header = /^\[(.+)\]$/.exec(line);
    if (header) section = sections[header[1]!] = {};
    else if (line && !/^[;#]/.test(line)) {
      const at = line.indexOf('=');
      section[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
  }
  return sections;
}

function dashboard(): any {
  return JSON.parse(readFileSync(repo('grafana/dashboards/wattmeter.json'), 'utf8'));
}

test('every dashboard panel and variable queries the provisioned data source, and every panel has queries', async (t) => {
  const provisioning = await parseYaml(readFileSync(repo(DATASOURCE_FILE), 'utf8'));
  t.is(provisioning.datasources.length, 1);
  const { uid } = provisioning.datasources[0];
  t.is(uid, 'wattmeter-prometheus');
  const board = dashboard();
  const panels = board.panels.filter((panel: any) => panel.type !== 'row');
  t.true(panels.length >= 10);
  t.is(new Set(board.panels.map((panel: any) => panel.id)).size, board.panels.length, 'panel ids are unique');
  for (const panel of panels) {
    t.deepEqual(panel.datasource, { type: 'prometheus', uid }, panel.title);
    t.true(panel.targets.length > 0, panel.title);
    for (const target of panel.targets) {
      t.deepEqual(target.datasource, { type: 'prometheus', uid }, panel.title);
      t.true(target.expr.trim().length > 0, panel.title);
    }
  }
  const variables = board.templating.list;
  t.deepEqual(variables.map((variable: any) => variable.name), ['instance', 'domain', 'exporter']);
  for (const variable of variables) t.deepEqual(variable.datasource, { type: 'prometheus', uid }, variable.name);
});

test('the dashboard covers every exporter metric', (t) => {
  const text = JSON.stringify(dashboard().panels);
  for (const metric of [
    'wattmeter_energy_joules_total', 'wattmeter_power_watts',
    'wattmeter_sampler_ticks_total', 'wattmeter_sampler_dropped_ticks_total', 'wattmeter_sampler_overruns_total',
    'wattmeter_sampler_read_errors_total', 'wattmeter_sampler_lateness_p50_seconds', 'wattmeter_sampler_lateness_p99_seconds',
    'wattmeter_sampler_lateness_max_seconds', 'wattmeter_sampler_rate_hertz', 'wattmeter_multirate_samples_served_total', 'wattmeter_multirate_samples_expired_total',
    'wattmeter_remote_write_samples_sent_total', 'wattmeter_remote_write_samples_failed_total',
    'wattmeter_remote_write_samples_retried_total', 'wattmeter_remote_write_samples_dropped_total',
    'wattmeter_remote_write_requests_total', 'wattmeter_remote_write_queue_samples',
    'wattmeter_remote_write_last_success_timestamp_seconds',
    'wattmeter_process_energy_joules_total', 'wattmeter_cgroup_energy_joules_total', 'wattmeter_unattributed_energy_joules_total',
  ]) {
    t.true(text.includes(metric), metric);
  }
});

test('Grafana: anonymous access off, no password in the repository, provisioning where Compose mounts it', async (t) => {
  const ini = parseIni(readFileSync(repo('grafana/grafana.ini'), 'utf8'));
  t.is(ini['auth.anonymous']?.enabled, 'false');
  t.is(ini.users?.allow_sign_up, 'false');
  t.false(Object.values(ini).some((section) => 'admin_password' in section));
  const config = await composeConfig(['docker/compose.yaml']);
  const mounts = config.services.grafana.volumes as string[];
  t.true(mounts.includes(`${repo('grafana/provisioning')}:/etc/grafana/provisioning:ro`));
  t.true(mounts.includes(`${repo('grafana/dashboards')}:/etc/grafana/dashboards:ro`));
  const provider = await parseYaml(readFileSync(repo('grafana/provisioning/dashboards/wattmeter.yaml'), 'utf8'));
  t.is(provider.providers[0].options.path, '/etc/grafana/dashboards');
  t.is(ini.dashboards?.default_home_dashboard_path, '/etc/grafana/dashboards/wattmeter.json');
});
