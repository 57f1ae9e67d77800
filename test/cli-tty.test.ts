// The CLI on a real terminal: tmux gives each test a pseudo-terminal of a chosen size, and
// capture-pane shows what a person would see on it, wrapped lines included.
import test, { type ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI } from '../fixtures/cli.js';
import { FakeWriter, fakePowercap, fiveZones, removeRoot, tempRoot } from '../fixtures/fake-rapl.js';

const ROWS = 24;

/** A detached tmux session of `columns` x ROWS running `command`, on its own server. */
function terminal(t: ExecutionContext, root: string, columns: number, command: string) {
  const socket = path.join(root, 'tmux.sock');
  const tmux = (...args: string[]) => execFileSync('tmux', ['-S', socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
  tmux('new-session', '-d', '-x', String(columns), '-y', String(ROWS), `echo before; ${command}; echo EXITED $?; sleep 60`);
  t.teardown(() => tmux('kill-server'));
  return {
    tmux,
    /** The screen as shown; `joined`: with wrapped lines joined back into one. */
    screen: (joined = false) => tmux('capture-pane', '-p', ...(joined ? ['-J'] : [])).replace(/\n+$/, '').split('\n'),
    cursorShown: () => tmux('display', '-p', '#{cursor_flag}').trim() === '1',
    async until(what: string, test: (lines: string[]) => boolean): Promise<string[]> {
      for (let i = 0; i < 150; i++) {
        const lines = this.screen();
        if (test(lines)) return lines;
        await sleep(100);
      }
      throw new Error(`the terminal never showed ${what}:\n${this.screen().join('\n')}`);
    },
  };
}

/** The domains in the table's order, and the watts the writer delivers to each. */
const WRITTEN_WATTS = { 'package-0': 20, 'core-0': 12, 'dram-0': 3, psys: 30, 'uncore-0': 2 };
const DOMAINS = Object.keys(WRITTEN_WATTS);

/** Five zones whose counters start at 100 kJ: a table showing the counters, not the energy since the start, shows. */
const zones = () => fiveZones().map((zone) => ({ ...zone, startUj: 100e9 }));

/** One clean frame: a single header, a row per domain, the status, and nothing wider than the window. */
function assertFrame(t: ExecutionContext, lines: string[], columns: number, what: string) {
  const frame = lines.filter((line) => line.trim() !== '' && line !== 'before' && !line.startsWith('EXITED'));
  t.is(frame.filter((line) => line.startsWith('DOMAIN')).length, 1, `${what}: one header\n${lines.join('\n')}`);
  t.deepEqual(frame.slice(1, 6).map((line) => line.split(/\s+/)[0]), DOMAINS, what);
  t.regex(frame[6], /^source powercap/, what);
  t.is(frame.length, 7, `${what}: no stale line\n${lines.join('\n')}`);
  t.true(frame.every((line) => line.length < columns), `${what}: every line fits in ${columns} columns`);
  // The writer advances every counter in the same write, by its watts times the same
  // elapsed time: whatever the window and however late the writer, the powers shown
  // stand to each other as the watts written (to the table's rounding).
  const watts = frame.slice(1, 6).map((line) => Number(line.split(/\s+/)[1]));
  const written = Object.values(WRITTEN_WATTS);
  for (let d = 1; d < DOMAINS.length; d++) {
    const ratio = watts[d] / watts[0] / (written[d] / written[0]);
    t.true(Math.abs(ratio - 1) < 0.01, `${what}: ${DOMAINS[d]} ${watts[d]} W to package-0's ${watts[0]} W, written ${written[d]} W to ${written[0]} W`);
  }
  return frame;
}

for (const columns of [30, 45, 120]) {
  test(`sample on a ${columns}-column terminal: one frame that fits, redrawn in place; Ctrl-C leaves it clean`, async (t) => {
    const root = tempRoot();
    t.teardown(() => removeRoot(root));
    const writer = await FakeWriter.start(fakePowercap(root, zones()));
    t.teardown(() => writer.stop());
    const launched = performance.now();
    const term = terminal(t, root, columns, `${process.execPath} ${CLI} sample --rate 200 --sysfs-root ${root}`);
    await term.until('the table', (lines) => lines.some((line) => line.startsWith('source')));
    await sleep(1200); // a few redraws, every 500 ms
    const live = term.screen();
    t.false(term.cursorShown(), 'the cursor is hidden while live');
    const frame = assertFrame(t, live, columns, 'live');
    t.is(term.screen(true).length, term.screen().length, 'no wrapped line');
    // Columns left out rather than wrapped.
    t.is(frame[0].includes('ENERGY (J)'), columns >= 40, frame[0]);
    t.true(frame[0].includes('POWER (W)'));

    term.tmux('send-keys', 'C-c');
    const after = await term.until('the exit', (lines) => lines.includes('EXITED 0'));
    t.deepEqual(after.slice(0, 1), ['before'], 'what was printed before stays above');
    const last = assertFrame(t, after, columns, 'after Ctrl-C');
    if (columns >= 40) {
      // The energy since the command started (not the counter's 100 kJ): at 20 W, no more
      // than 20 J a second it ran.
      const joules = Number(last[1].split(/\s+/)[2]);
      const ranS = (performance.now() - launched) / 1000;
      t.true(joules > 0 && joules <= 20 * ranS, `${joules} J in ${ranS.toFixed(1)} s`);
    }
    t.false(after.some((line) => line.includes('^C')), 'no echo left in the frame');
    t.true(term.cursorShown(), 'the cursor is shown again');
  });
}

test('sample redraws on resize: the frame fits the new width, nothing stale', async (t) => {
  const root = tempRoot();
  t.teardown(() => removeRoot(root));
  const writer = await FakeWriter.start(fakePowercap(root, zones()));
  t.teardown(() => writer.stop());
  const term = terminal(t, root, 120, `${process.execPath} ${CLI} sample --rate 200 --sysfs-root ${root}`);
  await term.until('the table', (lines) => lines.some((line) => line.includes('ENERGY (J)')));
  term.tmux('resize-window', '-x', '30');
  const narrow = await term.until('the narrow table', (lines) => lines.some((line) => line.startsWith('DOMAIN') && !line.includes('ENERGY')));
  assertFrame(t, narrow, 30, 'at 30 columns');
  t.is(term.screen(true).length, term.screen().length, 'no wrapped line');
  term.tmux('resize-window', '-x', '45');
  const wider = await term.until('the wider table', (lines) => lines.some((line) => line.includes('ENERGY (J)')));
  assertFrame(t, wider, 45, 'at 45 columns');
  term.tmux('send-keys', 'C-c');
  const after = await term.until('the exit', (lines) => lines.includes('EXITED 0'));
  assertFrame(t, after, 45, 'after Ctrl-C');
  t.is(after[0], 'before');
  t.true(term.cursorShown());
});

test('bench shows its progress on a terminal, and leaves only its figures', async (t) => {
  const root = tempRoot();
  t.teardown(() => removeRoot(root));
  fakePowercap(root, fiveZones());
  const term = terminal(t, root, 80, `${process.execPath} ${CLI} bench --rate 100 --duration 2 --sysfs-root ${root}`);
  const running = await term.until('progress', (lines) => lines.some((line) => /^bench: \d+\.\d of 2 s, \d+ ticks/.test(line)));
  t.false(running.some((line) => line.startsWith('source')), 'progress before the figures');
  const after = await term.until('the exit', (lines) => lines.includes('EXITED 0'));
  t.false(after.some((line) => line.startsWith('bench:')), 'the progress line is erased');
  t.regex(after.join('\n'), /^source\s+powercap \(5 domains\)$/m);
});
