// One progress line on stderr while the comparison runs (it takes minutes): redrawn in
// place on a terminal, one line per phase otherwise (CI logs, the test).
import { setTimeout as sleep } from 'node:timers/promises';

export class Progress {
  #prefix = '';
  #tty = Boolean(process.stderr.isTTY);
  #stopped: string | undefined;

  /** Makes the next wait throw, so that the cell's clean-up stops every process it started. */
  stop(reason: string): void {
    this.#stopped = reason;
  }

  cell(index: number, total: number, label: string): void {
    this.#prefix = `[cell ${index}/${total}] ${label}`;
  }

  say(phase: string): void {
    const line = `${this.#prefix}: ${phase}`;
    process.stderr.write(this.#tty ? `\r\x1b[K${line}` : `${line}\n`);
  }

  /** Waits `seconds`, counting them down on a terminal. */
  async wait(phase: string, seconds: number): Promise<void> {
    const end = Date.now() + seconds * 1000;
    if (!this.#tty) this.say(`${phase} (${seconds} s)`);
    while (Date.now() < end) {
      if (this.#stopped) throw new Error(`compare: ${this.#stopped}`);
      if (this.#tty) this.say(`${phase} (${Math.ceil((end - Date.now()) / 1000)} s left)`);
      await sleep(Math.min(1000, end - Date.now()));
    }
  }
}
