/**
 * OpenAI's chunks end with `"usage":null` when include_usage is on (vLLM's do not). When tokentap turned it on
 * (strip mode), exactly those bytes are removed, so the client gets the chunks it would have got without.
 */
import { describe, expect, it } from 'vitest';
import { StreamMeter } from '../../src/meter/stream-meter.js';
import { DONE, chunk, usageChunk } from './fixtures.js';

const openai = (delta: Record<string, unknown>, finish: string | null = null) => chunk(delta, finish, { usage: null });
const STREAM_WITH = [openai({ role: 'assistant', content: '' }), openai({ content: 'Hé' }), openai({ content: ' 🙂' }), openai({}, 'stop'), usageChunk(3, 2), DONE];
const STREAM_WITHOUT = [chunk({ role: 'assistant', content: '' }), chunk({ content: 'Hé' }), chunk({ content: ' 🙂' }), chunk({}, 'stop'), DONE];

function run(strip: boolean, bytes: Buffer, cuts: number[]) {
  const m = new StreamMeter({ stripUsageChunk: strip });
  const out: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(Buffer.from(m.push(bytes.subarray(from, cut), cut)));
    from = cut;
  }
  out.push(Buffer.from(m.end()));
  return { text: Buffer.concat(out).toString('utf8'), facts: m.facts };
}

describe('strip mode removes the "usage":null member tokentap caused', () => {
  const bytes = Buffer.from(STREAM_WITH.join(''));

  it('whole stream in one piece: the chunks as without include_usage, usage still read', () => {
    const { text, facts } = run(true, bytes, []);
    expect(text).toBe(STREAM_WITHOUT.join(''));
    expect(facts.usage).toMatchObject({ prompt: 3, completion: 2 });
    expect(facts.tokenEvents).toBe(2);
  });

  it('cut at every byte: the same bytes out', () => {
    for (let cut = 1; cut < bytes.length; cut++) expect(run(true, bytes, [cut]).text).toBe(STREAM_WITHOUT.join(''));
  });

  it('one byte at a time: the same bytes out', () => {
    expect(run(true, bytes, Array.from({ length: bytes.length - 1 }, (_, i) => i + 1)).text).toBe(STREAM_WITHOUT.join(''));
  });

  it('the client asked for usage (no strip mode): every byte as the upstream sent it', () => {
    expect(run(false, bytes, [100]).text).toBe(STREAM_WITH.join(''));
  });

  it('OpenAI\'s real shape (usage then obfuscation), CRLF framing, usage elsewhere at the top: each member removed', () => {
    const sent = [
      `data: {"id":"c","choices":[{"index":0,"delta":{"content":"a"}}],"usage":null,"obfuscation":"x,\\"usage\\":null}"}\n\n`,
      `data: {"id":"c","choices":[{"index":0,"delta":{"content":"a"}}],"usage":null}\r\n\r\n`,
      `data: {"id":"c","usage":null,"choices":[{"index":0,"delta":{"content":"\\"usage\\":null}"}}]}\n\n`,
    ];
    const want = [
      `data: {"id":"c","choices":[{"index":0,"delta":{"content":"a"}}],"obfuscation":"x,\\"usage\\":null}"}\n\n`,
      `data: {"id":"c","choices":[{"index":0,"delta":{"content":"a"}}]}\r\n\r\n`,
      `data: {"id":"c","choices":[{"index":0,"delta":{"content":"\\"usage\\":null}"}}]}\n\n`,
    ];
    const bytes = Buffer.from(sent.join(''));
    for (let cut = 1; cut < bytes.length; cut += 7) expect(run(true, bytes, [cut]).text).toBe(want.join(''));
    expect(run(false, bytes, []).text).toBe(sent.join('')); // not injected: untouched
  });
});
