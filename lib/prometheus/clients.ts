// What one client may hold of the metrics server, so that a misbehaving one (or a few) cannot
// shut Prometheus out: connections and responses in flight are counted per client, and the
// last of each is kept for a client that holds none. A client is its IP address, or its /64
// for IPv6, where one host commonly has a whole /64 to pick addresses from.
import type { Socket } from 'node:net';

/** The client an address belongs to. */
export function clientOf(address: string | undefined): string {
  if (!address) return '';
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7); // IPv4-mapped
  if (!address.includes(':')) return address;
  const [head, tail = ''] = address.split('%')[0].split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

/**
 * Responses in progress: at most `max` in all and `perClient` for one client; the last slot
 * only for a client with none in flight, so a client that holds slots (say, by never reading
 * its responses) cannot take them all, and a fresh scraper gets through.
 */
export class ScrapeSlots {
  readonly #max: number;
  readonly #perClient: number;
  readonly #held = new Map<string, number>();
  #total = 0;

  constructor(max: number, perClient: number) {
    this.#max = max;
    this.#perClient = perClient;
  }

  /** Takes a slot for client; false if there is none for it. */
  take(client: string): boolean {
    const mine = this.#held.get(client) ?? 0;
    if (mine >= this.#perClient || this.#total >= (mine === 0 ? this.#max : this.#max - 1)) return false;
    this.#held.set(client, mine + 1);
    this.#total++;
    return true;
  }

  give(client: string): void {
    const mine = this.#held.get(client)! - 1;
    if (mine === 0) this.#held.delete(client);
    else this.#held.set(client, mine);
    this.#total--;
  }
}

/**
 * Open connections: at most `perClient` for one client (beyond: closed as they open) and
 * `max` in all. At the cap, a client with no connection still gets in: the oldest
 * connection of the client holding the most (if more than one) makes room.
 */
export class ConnectionGuard {
  readonly #max: number;
  readonly #perClient: number;
  readonly #open = new Map<string, Set<Socket>>(); // a Set keeps the order of arrival
  #total = 0;

  constructor(max: number, perClient: number) {
    this.#max = max;
    this.#perClient = perClient;
  }

  /** Call on every new connection: it is closed at once, or counted until it closes. */
  admit(socket: Socket): void {
    const client = clientOf(socket.remoteAddress);
    const mine = this.#open.get(client) ?? new Set<Socket>();
    if (mine.size >= this.#perClient || (this.#total >= this.#max && !(mine.size === 0 && this.#evict()))) {
      socket.destroy();
      return;
    }
    mine.add(socket);
    this.#open.set(client, mine);
    this.#total++;
    socket.once('close', () => {
      if (mine.delete(socket)) this.#total--; // unless evicted, and counted gone then
      if (mine.size === 0 && this.#open.get(client) === mine) this.#open.delete(client);
    });
  }

  #evict(): boolean {
    let most: Set<Socket> | undefined;
    for (const sockets of this.#open.values()) if (sockets.size > (most?.size ?? 1)) most = sockets;
    const oldest = most?.values().next().value;
    if (!oldest) return false;
    most!.delete(oldest); // its 'close' comes later: count it gone now
    this.#total--;
    oldest.destroy();
    return true;
  }
}

/** A token bucket over all requests: one token every intervalMs, at most burst kept. */
export class TokenBucket {
  readonly #intervalMs: number;
  readonly #burst: number;
  #tokens: number;
  #lastMs = performance.now();

  constructor(intervalMs: number, burst: number) {
    this.#intervalMs = intervalMs;
    this.#burst = burst;
    this.#tokens = burst;
  }

  take(): boolean {
    const now = performance.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#lastMs) / this.#intervalMs);
    this.#lastMs = now;
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }
}
