import { describe, expect, it } from 'vitest';
import { KeyedHash } from '../../src/usage/keyed-hash.js';

describe('KeyedHash', () => {
  it('is the first 16 hex digits of HMAC-SHA256 (RFC 4231 test case 2), with the prefix', () => {
    // HMAC-SHA256(key "Jefe", "what do ya want for nothing?") = 5bdcc146bf60754e6a042426089575c7…
    expect(new KeyedHash('Jefe').of('what do ya want for nothing?')).toBe('5bdcc146bf60754e');
    expect(new KeyedHash('Jefe', 'u_').of('what do ya want for nothing?')).toBe('u_5bdcc146bf60754e');
  });

  it('is stable, differs per value and per secret', () => {
    const h = new KeyedHash('s'.repeat(16));
    expect(h.of('sk-a')).toBe(h.of('sk-a'));
    expect(h.of('sk-a')).not.toBe(h.of('sk-b'));
    expect(new KeyedHash('t'.repeat(16)).of('sk-a')).not.toBe(h.of('sk-a'));
    expect(h.of('sk-a')).toMatch(/^[0-9a-f]{16}$/);
  });

  it('remembers at most its capacity, and never a long value', () => {
    const h = new KeyedHash('s'.repeat(16), '', 100);
    const first = h.of('key-0');
    for (let i = 0; i < 5000; i++) h.of(`key-${i}`);
    expect(h.cached).toBe(100);
    expect(h.of('key-0')).toBe(first); // evicted, hashed again: the same id
    const long = new KeyedHash('s'.repeat(16));
    long.of('x'.repeat(10_000));
    expect(long.cached).toBe(0);
  });
});
