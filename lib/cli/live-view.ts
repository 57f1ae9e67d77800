// A frame redrawn in place on a terminal, as `top` does: drawn from the top of the
// alternate screen, so no line count can go stale when a line wraps or the window is
// resized; fitted to the window's width and height, redrawn on resize, the cursor hidden
// meanwhile. When it ends, the last frame is written once to the normal screen, under
// whatever was printed before (the warnings), and the cursor shown again.
import { writeSync } from 'node:fs';
import type { WriteStream } from 'node:tty';

/** Draws a frame for a width in columns: lines no longer than that. */
export type Frame = (width: number) => string[];

const ENTER = '\x1b[?1049h\x1b[?25l'; // alternate screen, cursor hidden
// Normal screen, cursor shown; the alternate one cleared first, or tmux, resized meanwhile,
// copies a line of it into the normal screen.
const LEAVE = '\x1b[H\x1b[2J\x1b[?1049l\x1b[?25h';

/** The live view on stdout, a terminal. */
export class LiveView {
  #out = process.stdout as WriteStream;
  #frame: Frame = () => [];
  #live = false;
  #redraw = () => this.#draw();
  #restore = () => writeSync(1, LEAVE); // exit handlers must be synchronous

  /**
   * The width frames are drawn for: one column short of the window, since a line that
   * fills the last column leaves the cursor waiting to wrap.
   */
  get width(): number {
    return Math.max(1, (this.#out.columns || 80) - 1);
  }

  show(frame: Frame): void {
    this.#frame = frame;
    if (!this.#live) {
      this.#live = true;
      this.#out.write(ENTER);
      this.#out.on('resize', this.#redraw);
      process.once('exit', this.#restore);
    }
    this.#draw();
  }

  /** Leaves the live view with the last frame printed plainly. Safe to call twice. */
  end(): void {
    if (!this.#live) return;
    this.#live = false;
    this.#out.off('resize', this.#redraw);
    process.off('exit', this.#restore);
    this.#out.write(LEAVE + fit(this.#frame(this.width), this.width).join('\n') + '\n');
  }

  #draw(): void {
    const lines = fit(this.#frame(this.width), this.width).slice(0, Math.max(1, this.#out.rows || 24));
    // Home, each line then erase the rest of it, then erase below: nothing stale is left.
    this.#out.write('\x1b[H' + lines.map((line) => line + '\x1b[K').join('\r\n') + '\x1b[J');
  }
}

function fit(lines: readonly string[], width: number): string[] {
  return lines.map((line) => (line.length > width ? line.slice(0, width) : line));
}
