// Basic authentication against bcrypt hashes, as the exporter toolkit does it: a bcrypt
// costs about 100 ms by design, so a Prometheus scraping every second must not pay it on
// every scrape. The verdicts are cached per (user, password) under a keyed digest (no
// plaintext password is kept), one bcrypt runs at a time, and an unknown user costs the
// same bcrypt as a known one, so timing does not tell which users exist. The cache is a
// Map keyed by an HMAC under a secret of this process, so its lookup time says nothing
// about the password; bcryptjs compares the hashes in constant time.
import { createHmac, randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';

// Verdicts kept, each kind; a flood of wrong passwords cannot push out the right ones.
const CACHE_SIZE = 100;
// bcrypts waiting beyond this are refused at once (a flood of wrong passwords).
const MAX_WAITING = 16;

export type AuthResult = 'ok' | 'denied' | 'busy';

export class BasicAuth {
  readonly #users: ReadonlyMap<string, string>;
  // An unknown user's password is checked against a real hash (of the same cost), and
  // refused whatever the outcome.
  readonly #decoy: string;
  readonly #secret = randomBytes(32);
  readonly #granted = new Map<string, true>();
  readonly #refused = new Map<string, true>();
  #queue: Promise<unknown> = Promise.resolve();
  #waiting = 0;

  constructor(users: ReadonlyMap<string, string>) {
    this.#users = users;
    this.#decoy = users.values().next().value ?? '';
  }

  /** Checks an Authorization header. */
  async check(header: string | undefined): Promise<AuthResult> {
    const credentials = parseBasic(header);
    if (!credentials) return 'denied';
    const [user, password] = credentials;
    const hash = this.#users.get(user);
    const key = createHmac('sha256', this.#secret).update(`${user}\0${hash ?? ''}\0${password}`).digest('base64');
    if (this.#granted.has(key)) return remember(this.#granted, key) && 'ok';
    if (this.#refused.has(key)) return 'denied';
    if (this.#waiting >= MAX_WAITING) return 'busy';
    this.#waiting++;
    const verdict = this.#queue.then(() => bcrypt.compare(password, hash ?? this.#decoy));
    this.#queue = verdict.catch(() => {});
    let ok: boolean;
    try {
      ok = (await verdict) && hash !== undefined;
    } catch {
      ok = false;
    } finally {
      this.#waiting--;
    }
    remember(ok ? this.#granted : this.#refused, key);
    return ok ? 'ok' : 'denied';
  }
}

/** Keeps key as the most recent entry of a bounded cache (Map keeps insertion order). */
function remember(cache: Map<string, true>, key: string): true {
  cache.delete(key);
  cache.set(key, true);
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!);
  return true;
}

/** [user, password] from `Basic base64(user:password)`, or undefined. */
function parseBasic(header: string | undefined): [string, string] | undefined {
  const match = /^basic +([A-Za-z0-9+/=]+) *$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : [decoded.slice(0, colon), decoded.slice(colon + 1)];
}
