// wattmeter and Prometheus's node_exporter read the same powercap tree: same joules.
import test from 'ava';
import path from 'node:path';
import { wattmeter } from '../fixtures/cli.js';
import { FakeWriter, fakePowercap, fiveZones, removeRoot, tempRoot } from '../fixtures/fake-rapl.js';
import { startNodeExporter } from '../fixtures/servers.js';

/** node_exporter's rapl samples by zone directory: node_rapl_<zone>_joules_total{path=...}. */
function parseRapl(text: string): Map<string, number> {
  const joules = new Map<string, number>();
  for (const match of text.matchAll(/^node_rapl_\w+_joules_total\{[^}]*path="([^"]+)"[^}]*\} (\S+)$/gm)) {
    joules.set(match[1], Number(match[2]));
  }
  return joules;
}

test('wattmeter read reports the joules node_exporter reports for every zone', async (t) => {
  const root = tempRoot();
  t.teardown(() => removeRoot(root));
  const zones = [...fiveZones(), { zone: 'intel-rapl:2', name: 'package-1', watts: 15, startUj: 987_654_321 }];
  const writer = await FakeWriter.start(fakePowercap(root, zones));
  await new Promise((resolve) => setTimeout(resolve, 300));
  await writer.pause(); // both read the same frozen values
  t.teardown(() => writer.stop());
  const exporter = await startNodeExporter(root);
  t.teardown(() => exporter.stop());

  const peer = parseRapl(await (await fetch(exporter.url)).text());
  const { code, stdout, stderr } = await wattmeter(['read', '--json', '--sysfs-root', root]);
  t.is(code, 0, stderr);
  const ours = JSON.parse(stdout) as { domains: { name: string; path: string; energyJoules: number }[] };

  t.is(ours.domains.length, zones.length);
  t.is(peer.size, zones.length);
  for (const domain of ours.domains) {
    const joules = peer.get(path.dirname(domain.path));
    t.not(joules, undefined, `node_exporter has no zone for ${domain.path}`);
    t.true(domain.energyJoules > 0, domain.name);
    t.is(domain.energyJoules, joules!, domain.name);
  }
});
