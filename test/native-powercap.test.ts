// The powercap source through the native sampler thread, on fake zones the writer advances
// at known watts.
import test from 'ava';
import { execFile } from 'node:child_process';
import { closeSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { listDomains, openSampler, readOnce } from '../lib/index.js';
import { energyFile, fakePowercap, fiveZones, makeRootOnly, type PowercapZoneSpec } from '../fixtures/fake-rapl.js';
import { assertEnergy, assertTicksRead, drainAll, measureExactly, sleep, startWriter, testRoot } from '../fixtures/native.js';

test('five zones: named and ordered like the kernel names them, each at its own power', async (t) => {
  const root = testRoot(t);
  const writer = await startWriter(t, fakePowercap(root, fiveZones({ package: 20, core: 12, uncore: 2, dram: 3, psys: 30 })));
  const m = await measureExactly(t, writer, { sysfsRoot: root, rateHz: 1000 }, 3000);
  t.is(m.sampler.source, 'powercap');
  t.deepEqual(
    m.sampler.domains.map((d) => d.name),
    ['package-0', 'core-0', 'dram-0', 'psys', 'uncore-0'],
  );
  t.is(m.sampler.domains[0].path, energyFile(root, 'intel-rapl:0'));
  t.is(m.sampler.domains[0].maxEnergyRangeUj, 262_143_328_850);
  // Each zone's ticks read its own file's values (the zones' powers differ, so a zone read
  // from another's file would not match), at the power the writer delivered.
  assertTicksRead(t, m);
  for (const domain of m.sampler.domains) assertEnergy(t, m, domain.name, 1);
});

test('the energy stays exact across two hundred wraps, stale digits and all', async (t) => {
  const root = testRoot(t);
  // This test plays the hardware itself, a step at a time, and waits for the sampler to
  // read each step: no reader can tell how often a counter wrapped between two of its
  // readings, so the steps must not depend on how busy the machine is (a writer process
  // stalled for a while would make them). Each step advances 0.7 of the range. The file
  // is rewritten in place and keeps stale digits after the newline whenever the number
  // gets shorter.
  const ranges: Record<string, number> = { 'package-0': 1_999_999, 'core-0': 999_999 };
  const raw: Record<string, number> = { 'package-0': 1_900_000, 'core-0': 0 };
  const zones = { 'package-0': 'intel-rapl:0', 'core-0': 'intel-rapl:0:0' };
  fakePowercap(root, [
    { zone: zones['package-0'], name: 'package-0', watts: 0, maxEnergyRangeUj: ranges['package-0'], startUj: raw['package-0'] },
    { zone: zones['core-0'], name: 'core', watts: 0, maxEnergyRangeUj: ranges['core-0'] },
  ]);
  const sampler = openSampler({ sysfsRoot: root, rateHz: 2000 });
  t.teardown(() => sampler.close());
  sampler.start();
  const steps = 300;
  for (let step = 0; step < steps; step++) {
    for (const [name, zone] of Object.entries(zones)) {
      raw[name] = (raw[name] + Math.floor(ranges[name] * 0.7)) % (ranges[name] + 1);
      const fd = openSync(energyFile(root, zone), 'r+');
      writeSync(fd, `${raw[name]}\n`, 0);
      closeSync(fd);
    }
    // The second tick from now starts after this write.
    const seen = sampler.stats().ticks;
    while (sampler.stats().ticks < seen + 2) await sleep(1);
  }
  sampler.stop();
  const batch = drainAll(sampler);
  sampler.domains.forEach((domain, d) => {
    const want = steps * Math.floor(ranges[domain.name] * 0.7);
    t.is(batch.energyUj[d][batch.length - 1], want, `${domain.name}: ${want / (ranges[domain.name] + 1)} wraps`);
  });
  t.is(sampler.stats().readErrors, 0);
});

test('two sockets and psys: a sub-zone takes its number from its parent package', async (t) => {
  const root = testRoot(t);
  const zones: PowercapZoneSpec[] = [
    { zone: 'intel-rapl:0', name: 'package-0', watts: 40 },
    { zone: 'intel-rapl:0:0', name: 'core', watts: 25 },
    { zone: 'intel-rapl:0:1', name: 'dram', watts: 6 },
    // The kernel numbers zones in the order it registers them: psys may come between
    // the packages, so intel-rapl:2 is package-1 and its dram is dram-1.
    { zone: 'intel-rapl:1', name: 'psys', watts: 90 },
    { zone: 'intel-rapl:2', name: 'package-1', watts: 35 },
    { zone: 'intel-rapl:2:0', name: 'core', watts: 22, key: 'core-1' },
    { zone: 'intel-rapl:2:1', name: 'dram', watts: 5, key: 'dram-1' },
  ];
  const writer = await startWriter(t, fakePowercap(root, zones));
  const m = await measureExactly(t, writer, { sysfsRoot: root, rateHz: 500 }, 1500);
  t.deepEqual(
    m.sampler.domains.map((d) => d.name),
    ['package-0', 'package-1', 'core-0', 'core-1', 'dram-0', 'dram-1', 'psys'],
  );
  t.is(m.sampler.domains.find((d) => d.name === 'dram-1')!.path, energyFile(root, 'intel-rapl:2:1'));
  assertTicksRead(t, m);
  for (const domain of m.sampler.domains) assertEnergy(t, m, domain.name, 1);
});

test('MMIO zones duplicate the package: left out unless asked for', (t) => {
  const root = testRoot(t);
  fakePowercap(root, [
    { zone: 'intel-rapl:0', name: 'package-0', watts: 0 },
    { zone: 'intel-rapl-mmio:0', name: 'package-0', watts: 0 },
  ]);
  t.deepEqual(listDomains({ sysfsRoot: root }).domains.map((d) => d.name), ['package-0']);
  const both = listDomains({ sysfsRoot: root, includeMmio: true }).domains;
  t.deepEqual(both.map((d) => d.name), ['package-0', 'package-0-mmio']);
  t.is(both[1].path, energyFile(root, 'intel-rapl-mmio:0'));
});

test('readOnce shows each counter as the hardware does, wraps and all', async (t) => {
  const root = testRoot(t);
  const writer = await startWriter(
    t,
    fakePowercap(root, [{ zone: 'intel-rapl:0', name: 'package-0', watts: 30, maxEnergyRangeUj: 1_000_000, startUj: 999_000 }]),
  );
  await sleep(200);
  await writer.pause();
  const raw = (await writer.snapshot())['package-0'].raw;
  t.true(raw < 999_000, 'the counter has wrapped');
  const reading = readOnce({ sysfsRoot: root });
  t.is(reading.domains[0].energyUj, raw);
  t.true(Math.abs(reading.timestampMs - Date.now()) < 1000);
});

test('a zone that turns unreadable counts read errors; the sampler goes on and picks it up again', async (t) => {
  const root = testRoot(t);
  const writer = await startWriter(t, fakePowercap(root, fiveZones()));
  const m = await measureExactly(t, writer, { sysfsRoot: root, rateHz: 1000 }, 0, async (sampler) => {
    await sleep(300);
    // A removed sysfs zone fails reads (ENODEV); an emptied file fails them the same way.
    await writer.pause();
    writeFileSync(energyFile(root, 'intel-rapl:0:0'), '');
    const before = sampler.stats();
    await sleep(300);
    const during = sampler.stats();
    t.true(during.readErrors - before.readErrors > 10, `${during.readErrors - before.readErrors} read errors`);
    t.true(during.ticks - before.ticks > 10, 'still ticking');
    await writer.resume(); // the writer rewrites the file: the zone is readable again
    let errors = -1;
    for (let tries = 0; tries < 100 && sampler.stats().readErrors !== errors; tries++) {
      errors = sampler.stats().readErrors;
      await sleep(100);
    }
    t.is(sampler.stats().readErrors, errors, 'no errors once readable');
    // Removing a zone's directory on a plain filesystem leaves the open file readable.
    rmSync(`${root}/class/powercap/intel-rapl:0:1`, { recursive: true });
    await sleep(200);
    t.true(sampler.stats().running);
  });
  // The core's total is still exact: the energy of the unreadable spell is in the first
  // reading after it, since the counter is cumulative.
  for (const name of ['package-0', 'core-0', 'dram-0', 'psys']) assertEnergy(t, m, name, 1);
});

test('a full ring drops ticks and counts them; the totals stay exact', async (t) => {
  const root = testRoot(t);
  const writer = await startWriter(t, fakePowercap(root, fiveZones()));
  // The smallest ring allowed (1024 ticks), undrained until the thread has ticked past it
  // by a thousand (on a busy machine that can take well over 2 s at 1 kHz).
  const m = await measureExactly(t, writer, { sysfsRoot: root, rateHz: 1000, bufferCapacity: 1024 }, 0, async (sampler) => {
    for (let waited = 0; sampler.stats().ticks < 1024 + 1000 && waited < 30_000; waited += 50) await sleep(50);
  });
  const stats = m.sampler.stats();
  t.true(stats.dropped >= 1000, `${stats.dropped} dropped of ${stats.ticks} ticks`);
  t.is(m.batch.length + stats.dropped, stats.ticks);
  for (const domain of m.sampler.domains) assertEnergy(t, m, domain.name, 1);
});

test('a counter readable by root only: EACCES with its path for powercap; auto moves on to the model and says why', async (t) => {
  const root = testRoot(t);
  fakePowercap(root, fiveZones());
  const file = energyFile(root, 'intel-rapl:0:0');
  makeRootOnly(file);
  const lib = fileURLToPath(new URL('../lib/', import.meta.url));
  const script = `
    import { addon } from '${lib}native.js';
    import { resolveSamplerOptions } from '${lib}options.js';
    import { openSampler, listDomains } from '${lib}index.js';
    const options = { sysfsRoot: ${JSON.stringify(root)}, source: 'powercap' };
    const out = {};
    try { new (addon().Sampler)(resolveSamplerOptions(options)); } catch (e) { out.native = { code: e.code, path: e.path, message: e.message }; }
    try { openSampler(options); } catch (e) { out.user = e.message; }
    out.listed = listDomains(options).domains.length;
    const auto = openSampler({ sysfsRoot: options.sysfsRoot });
    out.auto = { source: auto.source, warnings: auto.warnings };
    auto.close();
    console.log(JSON.stringify(out));`;
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ['--input-type=module', '-e', script], { uid: 65534, gid: 65534 }, (error, out, err) =>
      error ? reject(new Error(err)) : resolve(out),
    ),
  );
  const out = JSON.parse(stdout);
  t.deepEqual(out.native, { code: 'EACCES', path: file, message: `${file}: Permission denied` });
  t.regex(out.user, /Permission denied reading .*intel-rapl:0:0\/energy_uj/);
  t.regex(out.user, /Linux 5\.10/);
  t.is(out.listed, 5, 'listing the domains needs no access to the counters');
  t.is(out.auto.source, 'model');
  t.is(out.auto.warnings[0], `powercap: ${file}: Permission denied (root only since Linux 5.10; \`wattmeter read --source powercap\` says how to grant access)`);
});
