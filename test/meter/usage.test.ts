import { describe, expect, it } from 'vitest';
import { JsonMeter } from '../../src/meter/json-meter.js';
import { buildRecord } from '../../src/meter/record.js';
import { StreamMeter } from '../../src/meter/stream-meter.js';
import { MAX_USAGE_TOKENS, USAGE_REJECTED, checkUsage, readUsage } from '../../src/meter/usage.js';
import { DONE, chunk, usageChunk } from './fixtures.js';

const BAD: unknown[] = [1e308, 0.5, -1, MAX_USAGE_TOKENS + 1, '12', Infinity, NaN, true, {}, [3]];
const GOOD = [0, 1, MAX_USAGE_TOKENS];

/** A usage object of each shape with `v` in one token field. */
const withField = (field: string, v: unknown): Record<string, unknown> => {
  const chat = { prompt_tokens: 5, completion_tokens: 2, prompt_tokens_details: { cached_tokens: 1 }, completion_tokens_details: { reasoning_tokens: 0 } };
  const resp = { input_tokens: 5, output_tokens: 2, input_tokens_details: { cached_tokens: 1 }, output_tokens_details: { reasoning_tokens: 0 } };
  switch (field) {
    case 'cached_tokens':
      return { ...chat, prompt_tokens_details: { cached_tokens: v } };
    case 'reasoning_tokens':
      return { ...chat, completion_tokens_details: { reasoning_tokens: v } };
    case 'input cached_tokens':
      return { ...resp, input_tokens_details: { cached_tokens: v } };
    case 'output reasoning_tokens':
      return { ...resp, output_tokens_details: { reasoning_tokens: v } };
    default:
      return field.startsWith('prompt') || field.startsWith('completion') ? { ...chat, [field]: v } : { ...resp, [field]: v };
  }
};
const FIELDS = ['prompt_tokens', 'completion_tokens', 'cached_tokens', 'reasoning_tokens', 'input_tokens', 'output_tokens', 'input cached_tokens', 'output reasoning_tokens'];

describe('checkUsage: token counts must be integers in [0, MAX_USAGE_TOKENS]', () => {
  it('rejects the whole object when any present count is not (1e308, 0.5, -1, 1e9+1, "12", …), in every field of both shapes', () => {
    for (const field of FIELDS) {
      for (const v of BAD) {
        expect(checkUsage(withField(field, v)), `${field}: ${String(v)}`).toBe(USAGE_REJECTED);
        expect(readUsage(withField(field, v)), `${field}: ${String(v)}`).toBeNull();
      }
    }
  });

  it('accepts 0 and exactly 1e9; absent and null counts read as null', () => {
    for (const field of FIELDS) {
      for (const v of GOOD) expect(checkUsage(withField(field, v)), `${field}: ${v}`).not.toBe(USAGE_REJECTED);
    }
    expect(readUsage({ prompt_tokens: 0, completion_tokens: MAX_USAGE_TOKENS })).toEqual({ prompt: 0, completion: 1e9, cached: null, reasoning: null });
    expect(readUsage({ prompt_tokens: null, completion_tokens: 3, prompt_tokens_details: null })).toEqual({ prompt: null, completion: 3, cached: null, reasoning: null });
    expect(readUsage({ output_tokens: 3, input_tokens_details: 'n/a' })).toEqual({ prompt: null, completion: 3, cached: null, reasoning: null });
    expect(checkUsage({ total_tokens: 1e308 })).toBeNull(); // not a usage object (total_tokens is not read)
    expect(checkUsage('usage')).toBeNull();
  });
});

describe('a rejected usage object counts as no usage: the request is estimated and the caller can tell', () => {
  const tokens = [chunk({ role: 'assistant', content: '' }), chunk({ content: 'a' }), chunk({ content: 'b' }), chunk({ content: 'c' })];
  const feed = (m: StreamMeter, events: string[]) => events.map((e, i) => Buffer.from(m.push(Buffer.from(e), 10 * (i + 1))).toString()).join('');

  for (const v of [1e308, 0.5, -1, MAX_USAGE_TOKENS + 1, '12']) {
    it(`stream: prompt_tokens ${JSON.stringify(v)} → estimated, completion tokens = token events; strip mode still removes the chunk`, () => {
      for (const strip of [true, false]) {
        const m = new StreamMeter({ stripUsageChunk: strip });
        const usage = usageChunk(5, 3, { prompt_tokens: v });
        const out = feed(m, [...tokens, usage, DONE]);
        expect(out).toBe([...tokens, ...(strip ? [] : [usage]), DONE].join(''));
        expect(m.facts.usage).toBeNull();
        expect(m.facts.usageRejected).toBe(true);
        const rec = buildRecord({ t0: 0, endAt: 100, countTokens: true, stream: m.facts, bodyUsage: null });
        expect(rec).toMatchObject({ usage: 'estimated', completionTokens: 3, promptTokens: null, tpotMs: 10 });
      }
    });

    it(`JSON body: completion_tokens ${JSON.stringify(v)} → usage() null, usageRejected, estimated`, () => {
      const m = new JsonMeter();
      m.push(Buffer.from(JSON.stringify({ id: 'x', choices: [], usage: { prompt_tokens: 5, completion_tokens: v } })));
      const bodyUsage = m.usage();
      expect(bodyUsage).toBeNull();
      expect(m.usageRejected).toBe(true);
      expect(buildRecord({ t0: 0, endAt: 1, countTokens: true, stream: null, bodyUsage })).toMatchObject({ usage: 'estimated', promptTokens: null });
    });
  }

  it('stream: 0 and exactly 1e9 are reported', () => {
    const m = new StreamMeter({ stripUsageChunk: true });
    feed(m, [...tokens, usageChunk(0, MAX_USAGE_TOKENS), DONE]);
    expect(m.facts.usageRejected).toBe(false);
    const rec = buildRecord({ t0: 0, endAt: 100, countTokens: true, stream: m.facts, bodyUsage: null });
    expect(rec).toMatchObject({ usage: 'reported', promptTokens: 0, completionTokens: 1e9 });
  });

  it('stream: a rejected usage after a believable one (continuous usage stats) leaves the request estimated', () => {
    const m = new StreamMeter({ stripUsageChunk: false });
    const cont = chunk({ content: 'a' }, null, { usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 } });
    feed(m, [cont, chunk({ content: 'b' }, null, { usage: { prompt_tokens: 5, completion_tokens: 0.5 } }), DONE]);
    expect(m.facts.usage).toBeNull();
    expect(m.facts.usageRejected).toBe(true);
    expect(buildRecord({ t0: 0, endAt: 50, countTokens: true, stream: m.facts, bodyUsage: null })).toMatchObject({ usage: 'estimated', completionTokens: 2 });
  });

  it('Responses stream: a rejected response.completed usage → estimated from the deltas', () => {
    const ev = (type: string, body: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...body })}\n\n`;
    const m = new StreamMeter({ stripUsageChunk: false });
    feed(m, [
      ev('response.output_text.delta', { delta: 'Hi' }),
      ev('response.output_text.delta', { delta: '!' }),
      ev('response.completed', { response: { usage: { input_tokens: 9, output_tokens: 2, output_tokens_details: { reasoning_tokens: -1 } } } }),
    ]);
    expect(m.facts.usageRejected).toBe(true);
    expect(buildRecord({ t0: 0, endAt: 50, countTokens: true, stream: m.facts, bodyUsage: null })).toMatchObject({ usage: 'estimated', completionTokens: 2 });
  });

  it('JSON body: believable usage is reported and usageRejected stays false', () => {
    const m = new JsonMeter();
    m.push(Buffer.from(JSON.stringify({ usage: { prompt_tokens: 0, completion_tokens: MAX_USAGE_TOKENS } })));
    expect(m.usage()).toEqual({ prompt: 0, completion: 1e9, cached: null, reasoning: null });
    expect(m.usageRejected).toBe(false);
  });
});
