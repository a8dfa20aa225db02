import { describe, expect, it } from 'vitest';
import { parseRange, topLevelValues } from '../../src/meter/json-scan.js';

const KEYS = ['model', 'stream', 'usage', 'stream_options'] as const;

/** What the scan reads for each key, parsed: must equal JSON.parse's top-level members. */
function scanned(text: string): Record<string, unknown> | null {
  const b = Buffer.from(text);
  const ranges = topLevelValues(b, KEYS);
  if (ranges === null) return null;
  const out: Record<string, unknown> = {};
  for (const k of KEYS) if (ranges[k] !== undefined) out[k] = parseRange(b, ranges[k]);
  return out;
}

function parsed(text: string): Record<string, unknown> | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
  const out: Record<string, unknown> = {};
  for (const k of KEYS) if (k in (v as object)) out[k] = (v as Record<string, unknown>)[k];
  return out;
}

/** A small deterministic PRNG, so a failure names a reproducible seed. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

const TRICKY_STRINGS = ['', 'plain', '"quoted"', 'back\\slash', '{"usage":{"x":1}}', '}]{[', 'model', 'é ✓ 😀', '\n\t\u0000'];

function randomValue(r: () => number, depth: number): unknown {
  const k = Math.floor(r() * (depth > 3 ? 4 : 7));
  if (k === 0) return TRICKY_STRINGS[Math.floor(r() * TRICKY_STRINGS.length)];
  if (k === 1) return Math.floor(r() * 1e6) / (r() < 0.5 ? 1 : 1000) - 500;
  if (k === 2) return r() < 0.5;
  if (k === 3) return null;
  if (k === 4) return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
  return randomObject(r, depth + 1);
}

function randomObject(r: () => number, depth: number): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const names = ['model', 'stream', 'usage', 'messages', 'stream_options', 'content', 'x'];
  for (let n = Math.floor(r() * 6); n > 0; n--) o[names[Math.floor(r() * names.length)]] = randomValue(r, depth);
  return o;
}

describe('topLevelValues', () => {
  it('reads the same top-level members as JSON.parse, never nested ones, in every formatting', () => {
    const cases = [
      '{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}',
      '  {\n  "messages" : [ {"model": "nested", "usage": {"completion_tokens": 9}} ] ,\n "model" : "top" }  ',
      '{"choices":[{"message":{"content":"say \\"usage\\":{\\"completion_tokens\\":5}"}}],"usage":{"prompt_tokens":1,"completion_tokens":2}}',
      '{"model":"a","model":"b"}',
      '{"mo\\u0064el":"escaped key","stream":false}',
      '{"stream_options":null,"stream":true}',
      '{}',
      '{ }',
    ];
    for (const text of cases) expect(scanned(text), text).toEqual(parsed(text));
  });

  it('returns null for what is not a well-formed JSON object', () => {
    for (const text of ['', '[]', '"model"', 'null', '{"model":"m"', '{"model":"m",}', '{"model" "m"}', '{"a":[1,2}', '{"a":[1}}', '{"a":"unterminated}', '{} x', '{,}']) {
      expect(topLevelValues(Buffer.from(text), KEYS), text).toBeNull();
    }
  });

  it('agrees with JSON.parse on 2,000 random objects, compact and indented', () => {
    const r = rng(42);
    for (let n = 0; n < 2000; n++) {
      const o = randomObject(r, 0);
      for (const text of [JSON.stringify(o), JSON.stringify(o, null, 2)]) expect(scanned(text), `case ${n}: ${text}`).toEqual(parsed(text));
    }
  });
});
