// The stack, run natively as the containers run it (no Docker engine here): Prometheus on
// the configuration prometheus/write-config.sh writes, the three exporters as root
// dropping to an unprivileged user, on a root-only fake powercap tree. Then every query
// of the Grafana dashboard, its variables and $__rate_interval substituted as Grafana
// does, must return data.
import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { FakeWriter, energyFile, fakePowercap, fiveZones, makeRootOnly, removeRoot, tempRoot } from '../fixtures/fake-rapl.js';
import { StackPrometheus } from '../fixtures/stack-prometheus.js';
import { busyChild, testCgroups } from '../fixtures/busy.js';
import { cleanEnv, freePort, startServer, type Server } from '../fixtures/servers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url)); // dist/test -> repository
const SCRAPE_INTERVAL_S = 1;
const RATE_HZ = 200;

interface Target {
  expr: string;
  instant?: boolean;
}
interface Panel {
  title: string;
  type: string;
  targets?: Target[];
}
interface Variable {
  name: string;
  definition: string;
  includeAll: boolean;
  allValue?: string;
  current: { value: string | string[] };
}
interface Dashboard {
  panels: Panel[];
  templating: { list: Variable[] };
}

const dashboard = JSON.parse(readFileSync(path.join(ROOT, 'grafana/dashboards/wattmeter.json'), 'utf8')) as Dashboard;

/** One exporter as its container runs it: `node dist/lib/cli.js export <name>`, started as root. */
function startExample(name: string, readyUrl: string, env: NodeJS.ProcessEnv): Promise<Server> {
  return startServer(process.execPath, [path.join(ROOT, 'dist/lib/cli.js'), 'export', name], readyUrl, { env: cleanEnv(env) });
}

interface PromResult<Data> {
  status: string;
  error?: string;
  data: Data;
}

async function prometheusApi<Data = { result: unknown[] }>(url: string, params: Record<string, string>): Promise<PromResult<Data>> {
  const response = await fetch(`${url}?${new URLSearchParams(params)}`);
  return (await response.json()) as PromResult<Data>;
}

/**
 * Grafana's formatting of a multi-value selection for Prometheus (prometheusSpecialRegexEscape
 * in its Prometheus data source): regex characters escaped with a backslash that is itself
 * escaped for the PromQL string, several values as (a|b).
 */
function multiValue(values: string[]): string {
  const escaped = values.map((value) => value.replace(/\\/g, '\\\\\\\\').replace(/[$^*{}[\]'+?.()|]/g, '\\\\$&'));
  return escaped.length === 1 ? escaped[0]! : `(${escaped.join('|')})`;
}

/** Replaces Grafana's variables in a query; any `$` left is a variable this test does not know. */
function substitute(expr: string, values: Record<string, string>): string {
  // Longest names first: $__rate_interval before $__range... and $domain before $d.
  const names = Object.keys(values).sort((a, b) => b.length - a.length);
  let result = expr;
  for (const name of names) result = result.split(`$${name}`).join(values[name]!);
  if (result.includes('$')) throw new Error(`unknown variable in ${expr}`);
  return result;
}

test('every dashboard query returns data from Prometheus fed by the three exporters', async (t) => {
  t.timeout(110_000);
  const sysfs = tempRoot();
  t.teardown(() => removeRoot(sysfs));

  // The host's counters, root-only as on Linux >= 5.10: the exporters must open them as
  // root and keep reading after dropping to `nobody`, as WATTMETER_USER=node does in the image.
  const zones = fiveZones();
  const writer = await FakeWriter.start(fakePowercap(sysfs, zones));
  t.teardown(() => writer.stop());
  for (const zone of zones) makeRootOnly(energyFile(sysfs, zone.zone));

  // A cgroup holding a busy process, for the attribution panels (a container, on a host).
  const cgroups = testCgroups(t, ['web']);
  cgroups.move((await busyChild(t, 0.3)).pid, 'web');

  const [simplePort, multiratePort] = [await freePort(), await freePort()];
  const targets = { simple: [`127.0.0.1:${simplePort}`], multirate: [`127.0.0.1:${multiratePort}`] };
  const prometheus = await (await StackPrometheus.create(targets, SCRAPE_INTERVAL_S)).start();
  t.teardown(() => prometheus.remove());

  const common = {
    WATTMETER_SYSFS_ROOT: sysfs,
    WATTMETER_SOURCE: 'powercap',
    WATTMETER_RATE_HZ: String(RATE_HZ),
    WATTMETER_USER: 'nobody',
    WATTMETER_HOST: '127.0.0.1',
    WATTMETER_CGROUPS: 'true',
    WATTMETER_CGROUP_ROOT: cgroups.root,
    WATTMETER_ALL_PROCESSES: 'true',
  };
  const exporters = [
    await startExample('simple', `http://127.0.0.1:${simplePort}/metrics`, { ...common, WATTMETER_PORT: String(simplePort) }),
    await startExample('multirate', `http://127.0.0.1:${multiratePort}/metrics`, { ...common, WATTMETER_PORT: String(multiratePort) }),
    // It serves nothing: "ready" once started; the queries below wait for what it pushes.
    await startExample('remote-write', `${prometheus.url}/-/ready`, {
      ...common,
      WATTMETER_REMOTE_WRITE_URL: prometheus.writeUrl,
      WATTMETER_PUSH_INTERVAL_MS: '500',
      WATTMETER_JOB: 'wattmeter-remote-write',
      WATTMETER_INSTANCE: 'remote-write',
    }),
  ];
  for (const exporter of exporters) t.teardown(() => exporter.stop());
  const start = Math.floor(Date.now() / 1000);

  // The queries as Grafana sends them for a dashboard showing [start, now] at a 1 s step:
  // $__interval is the step (floored at the data source's scrape interval) and
  // $__rate_interval = max($__interval + scrape interval, 4 * scrape interval).
  const STEP_S = 1;
  const intervalS = Math.max(STEP_S, SCRAPE_INTERVAL_S);
  const builtins = (end: number) => ({
    __rate_interval: `${Math.max(intervalS + SCRAPE_INTERVAL_S, 4 * SCRAPE_INTERVAL_S)}s`,
    __interval: `${intervalS}s`,
    __range: `${Math.max(end - start, 1)}s`,
  });

  // The variables, as Grafana's label_values(metric{selector}, label) resolves them: the
  // label's values among the series matching the selector.
  async function variableValues(variable: Variable, selected: Record<string, string>): Promise<string[]> {
    const match = /^label_values\((.+),\s*(\w+)\)$/.exec(variable.definition);
    if (!match) throw new Error(`${variable.name}: unsupported variable query ${variable.definition}`);
    const result = await prometheusApi<string[]>(`${prometheus.url}/api/v1/label/${match[2]}/values`, {
      'match[]': substitute(match[1]!, selected),
      start: String(start),
    });
    if (result.status !== 'success') throw new Error(`${variable.name}: ${result.error}`);
    return result.data;
  }

  /** Every panel query that came back empty or failed, with the selection given. */
  async function emptyQueries(selection: (all: Record<string, string[]>) => Record<string, string>): Promise<string[]> {
    const all: Record<string, string[]> = {};
    for (const variable of dashboard.templating.list) {
      // A variable's query sees the variables before it set to All.
      const before = Object.fromEntries(Object.keys(all).map((name) => [name, '.*']));
      all[variable.name] = await variableValues(variable, before);
      if (all[variable.name]!.length === 0) return [`variable ${variable.name}: no values`];
    }
    const end = Math.floor(Date.now() / 1000);
    const values = { ...selection(all), ...builtins(end) };
    const failures: string[] = [];
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
      for (const target of panel.targets ?? []) {
        const query = substitute(target.expr, values);
        const result = target.instant
          ? await prometheusApi(`${prometheus.url}/api/v1/query`, { query, time: String(end) })
          : await prometheusApi(`${prometheus.url}/api/v1/query_range`, { query, start: String(start), end: String(end), step: String(STEP_S) });
        if (result.status !== 'success') failures.push(`${panel.title}: ${query}: ${result.error}`);
        else if (result.data.result.length === 0) failures.push(`${panel.title}: ${query}: no data`);
      }
    }
    return failures;
  }

  const selections: Record<string, (all: Record<string, string[]>) => Record<string, string>> = {
    // The dashboard's default: All, which the variables send as their allValue.
    // A single-value variable (which exporter's attribution to show) sends its default.
    'All selected': () => Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v.includeAll ? v.allValue! : String(v.current.value)])),
    // Every instance picked one by one (Grafana's (a|b|c) regex), one domain, each exporter's attribution.
    ...Object.fromEntries(
      ['simple', 'multirate', 'remote_write'].map((exporter) => [
        `instances listed, domain package-0, attribution from ${exporter}`,
        (all: Record<string, string[]>) => ({ instance: multiValue(all.instance!), domain: multiValue(['package-0']), exporter }),
      ]),
    ),
  };

  for (const [name, selection] of Object.entries(selections)) {
    let failures: string[] = [];
    const deadline = Date.now() + 60_000;
    do {
      await sleep(1000);
      failures = await emptyQueries(selection);
    } while (failures.length > 0 && Date.now() < deadline && exporters.every((e) => e.child.exitCode === null));
    t.deepEqual(failures, [], `${name}\n${exporters.map((e) => e.output()).join('\n')}`);
  }

  // Having delivered data, each runs as nobody, as the containers run as `node` once the
  // counters are open.
  for (const exporter of exporters) {
    const status = readFileSync(`/proc/${exporter.child.pid}/status`, 'utf8');
    t.regex(status, /^Uid:\s+65534\s+65534\s+65534\s+65534$/m, exporter.child.spawnargs.join(' '));
  }

  // The resolution panel tells the strategies apart: every tick stored (multirate, remote
  // write) against one sample per scrape (simple).
  const resolution = dashboard.panels.find((panel) => panel.title === 'Samples stored per second, per strategy')!;
  const perSecond = await prometheus.queryBy(substitute(resolution.targets![0]!.expr, { instance: '.*', domain: '.*' }), 'exporter');
  t.true(perSecond.get('multirate')! > 10 * perSecond.get('simple')!, JSON.stringify([...perSecond]));
  t.true(perSecond.get('remote_write')! > 10 * perSecond.get('simple')!, JSON.stringify([...perSecond]));

  // The variables offer what the stack has: the three exporters' instances, five domains.
  const instances = await variableValues(dashboard.templating.list[0]!, {});
  t.deepEqual(instances.sort(), [`127.0.0.1:${multiratePort}`, `127.0.0.1:${simplePort}`, 'remote-write'].sort());
  const domains = await variableValues(dashboard.templating.list[1]!, { instance: '.*' });
  t.deepEqual(domains.sort(), ['core-0', 'dram-0', 'package-0', 'psys', 'uncore-0']);
  const attributionFrom = await variableValues(dashboard.templating.list[2]!, { instance: '.*' });
  t.deepEqual(attributionFrom.sort(), ['multirate', 'remote_write', 'simple']);

  // The container panel shows the busy cgroup by its name.
  const perContainer = dashboard.panels.find((panel) => panel.title === 'Power per container and cgroup')!;
  const names = await prometheus.queryBy(
    substitute(perContainer.targets![0]!.expr, { instance: '.*', domain: 'package-0', exporter: 'multirate', __rate_interval: '10s' }),
    'name',
  );
  t.deepEqual([...names.keys()], ['web']);
});
