import { describe, expect, it } from 'vitest';
import { globMatch, PriceTable } from '../../src/usage/prices.js';

describe('globMatch', () => {
  it('* is any run (slashes too), ? exactly one character', () => {
    const cases: [string, string, boolean][] = [
      ['gpt-4o*', 'gpt-4o', true],
      ['gpt-4o*', 'gpt-4o-mini', true],
      ['gpt-4o*', 'gpt-4', false],
      ['*/Qwen*', 'Qwen/Qwen2.5-7B', true],
      ['*', '', true],
      ['?', '', false],
      ['?', 'a', true],
      ['a?c', 'abc', true],
      ['a?c', 'ac', false],
      ['a*b*c', 'aXbYc', true],
      ['a*b*c', 'aXbY', false],
      ['**a', 'ba', true],
      ['exact', 'exact', true],
      ['exact', 'exactly', false],
    ];
    for (const [g, n, want] of cases) expect(globMatch(g, n), `${g} ~ ${n}`).toBe(want);
  });

  it('a hostile name against many stars stays linear-ish (no exponential backtracking)', () => {
    const t = performance.now();
    expect(globMatch('*a*a*a*a*a*a*a*b', 'a'.repeat(20_000))).toBe(false);
    expect(performance.now() - t).toBeLessThan(2000);
  });
});

describe('PriceTable', () => {
  const a = { input: 1, output: 2 };
  const b = { input: 3, output: 4 };
  const c = { input: 5, output: 6 };
  const d = { input: 7, output: 8 };
  const table = new PriceTable({ 'llama-*': a, 'llama-3-70b': b, 'llama-3*': c, '?wen': d });

  it('exact names win over globs, then the first glob in file order', () => {
    expect(table.lookup('llama-3-70b')).toBe(b);
    expect(table.lookup('llama-3-8b')).toBe(a); // llama-* comes before llama-3*
    expect(table.lookup('qwen')).toBe(d);
    expect(table.lookup('qwen2')).toBeNull();
    expect(table.lookup(undefined)).toBeNull();
    expect(table.size).toBe(4);
  });

  it('answers the same after remembering many names (bounded cache)', () => {
    for (let i = 0; i < 2000; i++) table.lookup(`name-${i}`);
    expect(table.lookup('llama-3-8b')).toBe(a);
    expect(table.lookup('name-1')).toBeNull();
  });
});
