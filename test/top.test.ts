// `wattmeter top` as a user runs it: through a pipe (jsonl) and on a real terminal (tmux),
// on real busy processes and real cgroups, the fake powercap package at 20 W.
import test, { type ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TopRow } from '../lib/cli/top.js';
import { CLI, wattmeter } from '../fixtures/cli.js';
import { busyChild, testCgroups } from '../fixtures/busy.js';
import { fakeTree } from '../fixtures/prometheus.js';

const uj = (joules: number) => Math.round(joules * 1e6);

function parseRows(stdout: string): TopRow[] {
  return stdout.trim().split('\n').map((line) => JSON.parse(line) as TopRow);
}

test('--format jsonl: one row per refresh, joules cumulative, consumers plus unattributed make the measured energy', async (t) => {
  const { root } = await fakeTree(t);
  const busy = await busyChild(t, 0.5);
  const light = await busyChild(t, 0.2, busy); // a fifth of the busy one's CPU time
  const { code, stdout, stderr } = await wattmeter(['top', '--sysfs-root', root, '--pid', String(busy.pid), '--pid', String(light.pid), '--format', 'jsonl', '--duration', '4.5']);
  t.is(code, 0, stderr);
  const rows = parseRows(stdout);
  t.true(rows.length >= 2 && rows.length <= 4, `${rows.length} rows`);
  let before: TopRow | undefined;
  for (const row of rows) {
    t.is(row.domain, 'package-0');
    t.is(row.view, 'process');
    t.deepEqual(row.consumers.map((c) => c.id).sort(), [String(busy.pid), String(light.pid)].sort());
    // Every tracked process is shown (2 < --top 10): the parts add up, to the microjoule.
    const parts = row.consumers.reduce((sum, c) => sum + uj(c.joules), 0) + uj(row.unattributedJoules);
    t.is(parts, uj(row.measuredJoules));
    for (const c of row.consumers) {
      t.is(c.kind, 'process');
      t.is(c.name, 'node');
      t.true(c.watts >= 0 && c.cpuShare >= 0);
      const earlier = before?.consumers.find((e) => e.id === c.id);
      if (earlier) t.true(c.joules >= earlier.joules, 'cumulative');
    }
    if (before) t.true(row.timestampMs > before.timestampMs && row.measuredJoules > before.measuredJoules);
    before = row;
  }
  const last = rows.at(-1)!;
  const joules = (pid: number) => last.consumers.find((c) => c.id === String(pid))!.joules;
  t.true(joules(busy.pid) > joules(light.pid), JSON.stringify(last.consumers));
  // Sorted by power, the most first.
  t.true(last.consumers[0].watts >= last.consumers[1].watts);
});

test('--cgroups ranks the cgroups below --cgroup-root by their own processes', async (t) => {
  const { root } = await fakeTree(t);
  const cgroups = testCgroups(t, ['busy', 'light']);
  const busy = await busyChild(t, 0.5);
  cgroups.move(busy.pid, 'busy');
  cgroups.move((await busyChild(t, 0.2, busy)).pid, 'light');
  const { code, stdout, stderr } = await wattmeter(['top', '--sysfs-root', root, '--cgroups', '--cgroup-root', cgroups.root, '--format', 'jsonl', '--duration', '3.5']);
  t.is(code, 0, stderr);
  const last = parseRows(stdout).at(-1)!;
  t.is(last.view, 'cgroup');
  t.deepEqual(last.consumers.map((c) => `${c.kind} ${c.id} ${c.name}`).sort(), ['cgroup /busy busy', 'cgroup /light light']);
  // Ranked by the last refresh's watts, which follow whoever got the CPU in that second (on
  // a busy machine, not always the busier duty cycle); over 3.5 s the busy one used more.
  t.true(last.consumers[0].watts >= last.consumers[1].watts, JSON.stringify(last.consumers));
  const joules = (id: string) => last.consumers.find((c) => c.id === id)!.joules;
  t.true(joules('/busy') > joules('/light'), JSON.stringify(last.consumers));
});

test('on a terminal the table is redrawn in place, one header, the most power on top', async (t) => {
  const { root } = await fakeTree(t);
  const busy = await busyChild(t, 0.6);
  const light = await busyChild(t, 0.1, busy);
  const session = `wattmeter-top-${process.pid}`;
  const command = `${process.execPath} ${CLI} top --sysfs-root ${root} --pid ${busy.pid},${light.pid} --duration 30`;
  execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', '100', '-y', '20', command]);
  t.teardown(() => {
    try {
      execFileSync('tmux', ['kill-session', '-t', session], { stdio: 'ignore' });
    } catch {
      // it ended by itself
    }
  });
  const capture = () => execFileSync('tmux', ['capture-pane', '-p', '-t', session], { encoding: 'utf8' });
  // The first table comes after two refreshes (the first is the baseline of the watts).
  const deadline = Date.now() + 15_000;
  while (!capture().includes('PID ') && Date.now() < deadline) await sleep(200);
  const screens = [capture()];
  await sleep(1500);
  screens.push(capture());
  for (const screen of screens) {
    const lines = screen.split('\n').filter((line) => line.trim() !== '');
    t.is(lines.filter((line) => line.startsWith('PID ')).length, 1, screen);
    t.regex(lines[0], /^package-0: \d+\.\d\d W measured, .* attributed to processes by CPU time \(an estimate\)$/, screen);
    // Both rows, the most watts first. Which child that is follows the CPU each really got
    // in the last second: on a starved machine both get little more than their timers' cost.
    const rows = lines.slice(2, 4).map((line) => line.match(/^(\d+) +node +(\d+\.\d\d) +\d+\.\d\d +\d+\.\d  \//));
    t.deepEqual(rows.map((row) => Number(row?.[1])).sort(), [busy.pid, light.pid].sort(), screen);
    t.true(Number(rows[0]?.[2]) >= Number(rows[1]?.[2]), screen);
    t.true(lines.every((line) => line.length <= 100));
  }
  t.not(screens[0], screens[1], 'refreshed');
});

async function assertUsageErrors(t: ExecutionContext, cases: [string[], RegExp][]): Promise<void> {
  for (const [args, message] of cases) {
    const { code, stdout, stderr } = await wattmeter([...args, '--source', 'model']);
    t.is(code, 2, `${args.join(' ')}: ${stderr}`);
    t.regex(stderr, message);
    t.is(stdout, '');
  }
}

test('bad input: one line naming the flag and the way out, exit 2', async (t) => {
  await assertUsageErrors(t, [
    [['top', '--format', 'csv'], /^wattmeter: --format must be table or jsonl for `wattmeter top`; got "csv"\.\n$/],
    [['top', '--match', '('], /^wattmeter: --match \/ WATTMETER_MATCH is not a valid regular expression: .*\n$/],
    [['top', '--pid', '4194303'], /^wattmeter: no process has pid 4194303 .*ps -p 4194303.*\n$/],
    [['top', '--cgroups', '--cgroup-root', '/tmp'], /^wattmeter: \/tmp is not a cgroup mount.*findmnt.*\n$/],
  ]);
});

// The sampler checks these once the files are looked at, and names the option by its key
// (pids, cgroupRoot), not as the user set it: lib/attribution/tracker.ts gets no names.
test('a missing pid and a wrong cgroup root name the flag the user typed', async (t) => {
  await assertUsageErrors(t, [
    [['top', '--pid', '4194303'], /\(--pid \/ WATTMETER_PIDS\)/],
    [['top', '--cgroups', '--cgroup-root', '/tmp'], /\(--cgroup-root \/ WATTMETER_CGROUP_ROOT\)/],
  ]);
});
