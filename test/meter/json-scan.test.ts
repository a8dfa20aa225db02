import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, parseRange, topLevelValues } from '../../src/meter/json-scan.js';

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

  it('strings ending in escaped quotes and backslashes, short and long (the memchr path), agree with JSON.parse', () => {
    const tails = ['\\"', '\\\\', '\\\\\\"', '\\\\\\\\', '"\\"\\\\', 'x\\'];
    for (const pad of [0, 5, 31, 32, 33, 200]) {
      for (const tail of tails) {
        const text = JSON.stringify({ content: 'a'.repeat(pad) + tail, model: 'm' + tail, usage: tail + '"' });
        expect(scanned(text), text).toEqual(parsed(text));
      }
    }
    const r = rng(7);
    const alphabet = ['a', '"', '\\', 'é', '\\\\', '}'];
    for (let n = 0; n < 2000; n++) {
      const str = Array.from({ length: Math.floor(r() * 90) }, () => alphabet[Math.floor(r() * alphabet.length)]).join('');
      const text = JSON.stringify({ messages: [str, { x: str }], model: str, stream: str.length % 2 === 0 });
      expect(scanned(text), `case ${n}: ${text}`).toEqual(parsed(text));
    }
  });

  it('reads escaped keys once decoded, and leaves a key too long to be one of the names undecoded', () => {
    expect(scanned('{"\\u006dodel":"m","\\u0073tream":true}')).toEqual({ model: 'm', stream: true });
    const huge = '\\u006d'.repeat(100_000);
    expect(scanned(`{"${huge}":1,"model":"m"}`)).toEqual({ model: 'm' });
  });
});

describe('topLevelValues on hostile bodies', () => {
  const nest = (n: number, open = '[', close = ']') => open.repeat(n) + '1' + close.repeat(n);

  it('60 MiB of [ after a key: not JSON, and the scan allocates nothing on the way', () => {
    const head = Buffer.from('{"model":"n","stream":true,"x":');
    const body = Buffer.alloc(head.length + 60 * 1024 * 1024, '[');
    head.copy(body);
    const before = process.memoryUsage();
    const ranges = topLevelValues(body, KEYS);
    const after = process.memoryUsage();
    expect(ranges).toBeNull();
    expect(after.heapUsed - before.heapUsed).toBeLessThan(4 * 1024 * 1024); // the old per-level array grew >1 GB
    expect(after.rss - before.rss).toBeLessThan(16 * 1024 * 1024);
  });

  it('1,000 [ followed by garbage: null, no throw', () => {
    const body = Buffer.concat([Buffer.from('{"model":"m","x":' + '['.repeat(1000)), Buffer.from([0xff, 0x00, 0x22, 0x7d])]);
    expect(() => topLevelValues(body, KEYS)).not.toThrow();
    expect(topLevelValues(body, KEYS)).toBeNull();
  });

  it(`nesting of exactly MAX_JSON_DEPTH (${MAX_JSON_DEPTH}) levels, the top-level object included, is read; one more is not JSON`, () => {
    const inner = MAX_JSON_DEPTH - 1; // levels inside the top-level object
    for (const [open, close] of [['[', ']'], ['{"a":', '}']]) {
      const at = `{"model":"m","x":${nest(inner, open, close)}}`;
      const over = `{"model":"m","x":${nest(inner + 1, open, close)}}`;
      expect(scanned(at), `${open} at the limit`).toEqual({ model: 'm' });
      expect(parsed(at)).toEqual({ model: 'm' });
      expect(topLevelValues(Buffer.from(over), KEYS), `${open} past the limit`).toBeNull();
    }
  });

  it('deep nesting counts in a member that is not one of the keys, before or after them', () => {
    const deep = nest(MAX_JSON_DEPTH);
    for (const text of [`{"messages":${deep},"model":"m"}`, `{"model":"m","messages":[{"content":${deep}}]}`, `{"usage":${deep}}`]) {
      expect(topLevelValues(Buffer.from(text), KEYS), text.slice(0, 40)).toBeNull();
    }
  });

  it('a 60 MiB string value is skipped and `model` after it still found', () => {
    const head = Buffer.from('{"messages":[{"content":"');
    const tail = Buffer.from('"}],"model":"big","stream":true}');
    const body = Buffer.alloc(head.length + 60 * 1024 * 1024 + tail.length, 'x');
    head.copy(body);
    tail.copy(body, body.length - tail.length);
    const ranges = topLevelValues(body, KEYS);
    expect(parseRange(body, ranges?.model)).toBe('big');
    expect(parseRange(body, ranges?.stream)).toBe(true);
  });

  it('a long string of escaped quotes and backslashes agrees with JSON.parse', () => {
    const str = '\\"'.repeat(100_000) + '"\\' + 'y'.repeat(1000) + '\\';
    const text = JSON.stringify({ messages: [{ content: str }], model: str.slice(-5), stream: false });
    expect(scanned(text)).toEqual(parsed(text));
  });

  it('100,000 top-level members, repeated keys included: the last value of each key', () => {
    const members = Array.from({ length: 100_000 }, (_, n) => `"${n % 3 === 0 ? 'model' : `k${n}`}":${n}`);
    const text = `{${members.join(',')}}`;
    expect(scanned(text)).toEqual(parsed(text));
  });
});
