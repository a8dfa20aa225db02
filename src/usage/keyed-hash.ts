/**
 * Stable pseudonyms: the first 16 hex digits of HMAC-SHA256(secret, value). Without the secret nobody can
 * check a guessed key or email against a logged id; with it, the same key or user always gets the same id,
 * so logs and labels join across processes and restarts. Pure (a computation, no I/O).
 */
import { createHmac } from 'node:crypto';

/** Hex digits kept: 64 bits, no collisions in practice among a deployment's keys and users. */
export const HASH_HEX_DIGITS = 16;
/** Values remembered (a hot key is hashed once, not per request)… */
const CACHE_ENTRIES = 1024;
/** …when at most this long: a 16 KB header is hashed each time, not kept. */
const CACHE_MAX_LENGTH = 256;

export class KeyedHash {
  /** value → id, oldest first (Map keeps insertion order): the oldest is dropped when full. */
  private readonly cache = new Map<string, string>();

  constructor(
    private readonly secret: string,
    /** Put before the hex digits (`u_` for hashed user ids). */
    private readonly prefix = '',
    private readonly capacity = CACHE_ENTRIES,
  ) {}

  /** The id of `value`: `prefix` + 16 hex digits. */
  of(value: string): string {
    let id = this.cache.get(value);
    if (id !== undefined) return id;
    id = this.prefix + createHmac('sha256', this.secret).update(value, 'utf8').digest('hex').slice(0, HASH_HEX_DIGITS);
    if (value.length <= CACHE_MAX_LENGTH) {
      if (this.cache.size >= this.capacity) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(value, id);
    }
    return id;
  }

  /** Values remembered now (tests: the cache stays bounded). */
  get cached(): number {
    return this.cache.size;
  }
}
