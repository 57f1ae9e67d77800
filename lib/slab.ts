// Where drained ticks live: consecutive views of buffers far larger than one drain, each
// touched in full once, when it is allocated. A drain into memory of its own faulted in a
// fresh page on the Node.js main thread at most drains (the ArrayBuffers of earlier drains
// are freed only when the garbage collector runs); in a slab the faults come together, once
// per slab. On a VM, a page fault on the main thread can make the sampler thread's next
// wake-up late (README, "What the tail is made of").
//
// A batch's columns are views of its slab: a batch kept keeps its whole slab alive, and
// transferring a column's buffer would take the other batches' ticks with it.

/** Bytes of the smallest slab: about 5 s of ticks of five domains at 1 kHz. */
const MIN_SLAB_BYTES = 256 * 1024;

export class Slab {
  #buffer = new Float64Array(0);
  #used = 0;
  readonly #elements: number;

  /** `elementsPerSecond`: how many numbers a second of ticks needs; a slab holds at least that. */
  constructor(elementsPerSecond: number) {
    this.#elements = Math.max(MIN_SLAB_BYTES / Float64Array.BYTES_PER_ELEMENT, Math.ceil(elementsPerSecond));
  }

  /**
   * A view of `length` numbers that no earlier take() returned. It shares its buffer
   * with other views: never transfer or detach `.buffer`.
   */
  take(length: number): Float64Array {
    if (length > this.#buffer.length - this.#used) {
      // fill(): touch every page now, not one by one in later drains.
      this.#buffer = new Float64Array(Math.max(this.#elements, length)).fill(0);
      this.#used = 0;
    }
    this.#used += length;
    return this.#buffer.subarray(this.#used - length, this.#used);
  }
}
