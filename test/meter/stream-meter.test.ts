import { describe, expect, it } from 'vitest';
import { buildRecord } from '../../src/meter/record.js';
import { StreamMeter } from '../../src/meter/stream-meter.js';
import { CHAT_EVENTS, DONE, chunk, usageChunk } from './fixtures.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Feeds events at the given times (ms), one push per event. */
function feedEvents(meter: StreamMeter, events: string[], times: number[]): string {
  let out = '';
  events.forEach((e, i) => (out += dec.decode(meter.push(enc.encode(e), times[i]))));
  return out + dec.decode(meter.end());
}

/** Feeds the whole stream as bytes split at `cuts`; all pieces arrive at time 0 except where `timeOf` says. */
function feedSplit(meter: StreamMeter, bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(meter.push(bytes.slice(start, cut), cut));
    start = cut;
  }
  out.push(meter.end());
  return out;
}

const joinBytes = (parts: Uint8Array[]) => Buffer.concat(parts.map((p) => Buffer.from(p)));

describe('StreamMeter timing (injected clock)', () => {
  const times = [5, 100, 130, 170, 220, 221, 222, 223];

  it('measures TTFT, TTFC, ITL and TPOT exactly from token events; role and empty chunks are not token events', () => {
    const seen: string[] = [];
    const m = new StreamMeter({
      stripUsageChunk: false,
      observer: { tokenEvent: (now, gap) => seen.push(`token ${now} ${gap}`), firstContent: (now) => seen.push(`content ${now}`) },
    });
    feedEvents(m, CHAT_EVENTS, times);
    expect(m.facts.tokenEvents).toBe(4);
    expect(m.facts.firstTokenAt).toBe(100);
    expect(m.facts.firstContentAt).toBe(100);
    expect(m.facts.lastTokenAt).toBe(220);
    // observed as they passed, each once: TTFT (no gap), then the ITL gaps 30, 40, 50
    expect(seen).toEqual(['token 100 null', 'content 100', 'token 130 30', 'token 170 40', 'token 220 50']);
    expect(m.facts.sawDone).toBe(true);
    const rec = buildRecord({ t0: 0, endAt: 230, countTokens: true, stream: m.facts, bodyUsage: null });
    expect(rec).toMatchObject({
      ttftMs: 100,
      ttfcMs: 100,
      tpotMs: 40, // (220 - 100) / (4 - 1)
      e2eMs: 230,
      promptTokens: 7,
      completionTokens: 4,
      cachedTokens: 3,
      usage: 'reported',
    });
  });

  it('reasoning deltas start TTFT; content starts TTFC', () => {
    const gaps: (number | null)[] = [];
    const m = new StreamMeter({ stripUsageChunk: false, observer: { tokenEvent: (_now, gap) => gaps.push(gap), firstContent: () => {} } });
    const events = [
      chunk({ role: 'assistant', content: '' }),
      chunk({ reasoning_content: 'hmm' }),
      chunk({ reasoning: 'so' }),
      chunk({ content: 'yes' }),
      DONE,
    ];
    feedEvents(m, events, [1, 50, 60, 90, 91]);
    const rec = buildRecord({ t0: 0, endAt: 95, countTokens: true, stream: m.facts, bodyUsage: null });
    expect(rec.ttftMs).toBe(50);
    expect(rec.ttfcMs).toBe(90);
    expect(gaps).toEqual([null, 10, 30]);
    expect(rec.usage).toBe('estimated');
    expect(rec.completionTokens).toBe(3);
    expect(rec.tpotMs).toBe(20);
  });

  it('tool-call deltas are token and content events', () => {
    const m = new StreamMeter({ stripUsageChunk: false });
    feedEvents(
      m,
      [
        chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: 't', type: 'function', function: { name: 'f', arguments: '' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a":' } }] }),
        chunk({ tool_calls: [] }),
      ],
      [10, 20, 30],
    );
    expect(m.facts.tokenEvents).toBe(2);
    expect(m.facts.firstContentAt).toBe(10);
  });

  it('records an in-band error event', () => {
    const m = new StreamMeter({ stripUsageChunk: false });
    feedEvents(m, [chunk({ content: 'a' }), 'data: {"error":{"message":"boom","code":500}}\n\n', DONE], [1, 2, 3]);
    expect(m.facts.inbandError).toBe(true);
    expect(m.facts.tokenEvents).toBe(1);
  });

  it('Responses API: *.delta events are tokens, reasoning deltas are not content, usage from response.completed', () => {
    const ev = (type: string, body: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...body })}\n\n`;
    const m = new StreamMeter({ stripUsageChunk: false });
    feedEvents(
      m,
      [
        ev('response.created', { response: { id: 'r' } }),
        ev('response.reasoning_text.delta', { delta: 'think' }),
        ev('response.output_text.delta', { delta: 'Hi' }),
        ev('response.output_text.delta', { delta: '!' }),
        ev('response.completed', {
          response: { usage: { input_tokens: 9, output_tokens: 3, input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: 1 } } },
        }),
      ],
      [1, 40, 70, 80, 81],
    );
    const rec = buildRecord({ t0: 0, endAt: 90, countTokens: true, stream: m.facts, bodyUsage: null });
    expect(rec).toMatchObject({ ttftMs: 40, ttfcMs: 70, promptTokens: 9, completionTokens: 3, reasoningTokens: 1, usage: 'reported', tpotMs: 20 });
  });
});

describe('StreamMeter byte handling', () => {
  const stream = enc.encode(CHAT_EVENTS.join(''));
  const withoutUsage = enc.encode(CHAT_EVENTS.filter((e) => !e.includes('"choices":[]')).join(''));

  it('split at every byte offset (incl. inside multibyte characters): same facts, bytes forwarded unchanged', () => {
    for (let cut = 1; cut < stream.length; cut++) {
      const m = new StreamMeter({ stripUsageChunk: false });
      const out = joinBytes(feedSplit(m, stream, [cut]));
      expect(Buffer.compare(out, Buffer.from(stream))).toBe(0);
      expect(m.facts.tokenEvents).toBe(4);
      expect(m.facts.usage).toEqual({ prompt: 7, completion: 4, cached: 3, reasoning: null });
    }
  });

  it('strip mode removes exactly the usage-only chunk, at every split offset, and still reads its usage', () => {
    for (let cut = 1; cut < stream.length; cut++) {
      const m = new StreamMeter({ stripUsageChunk: true });
      const out = joinBytes(feedSplit(m, stream, [cut]));
      expect(out.toString()).toBe(Buffer.from(withoutUsage).toString());
      expect(m.facts.usage?.completion).toBe(4);
      expect(m.facts.strippedUsageChunks).toBe(1);
      expect(m.facts.tokenEvents).toBe(4);
    }
  });

  it('strip mode with every byte in its own piece, CRLF framing', () => {
    const crlf = enc.encode(CHAT_EVENTS.join('').replaceAll('\n', '\r\n'));
    const m = new StreamMeter({ stripUsageChunk: true });
    const cuts = Array.from({ length: crlf.length - 1 }, (_, i) => i + 1);
    const out = joinBytes(feedSplit(m, crlf, cuts)).toString();
    expect(out).toBe(Buffer.from(withoutUsage).toString().replaceAll('\n', '\r\n'));
    expect(m.facts.tokenEvents).toBe(4);
  });

  it('strip mode forwards a complete chunk by identity when nothing is removed', () => {
    const m = new StreamMeter({ stripUsageChunk: true });
    const piece = enc.encode(chunk({ content: 'x' }) + chunk({ content: 'y' }));
    expect(m.push(piece, 0)).toBe(piece);
  });

  it('strip mode keeps a usage chunk that also carries choices (continuous usage stats)', () => {
    const m = new StreamMeter({ stripUsageChunk: true });
    const e = chunk({ content: 'x' }, null, { usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
    expect(dec.decode(m.push(enc.encode(e), 0))).toBe(e);
  });

  it('non-JSON data, comments, event/id fields do not confuse the meter', () => {
    const m = new StreamMeter({ stripUsageChunk: false });
    const text = ': keepalive\n\nid: 1\nevent: message\ndata: not json\n\n' + chunk({ content: 'a' }) + 'retry: 100\n\n' + usageChunk(1, 1) + DONE;
    feedEvents(m, [text], [3]);
    expect(m.facts.tokenEvents).toBe(1);
    expect(m.facts.usage?.completion).toBe(1);
    expect(m.facts.sawDone).toBe(true);
  });

  it('regression: events read straight from the bytes and events through eventsource-parser agree, in any mix', () => {
    // `data:` without a space, a multi-line data event, an event name, a CR-framed event and plain chunks.
    const text =
      chunk({ content: 'a' }).replace('data: ', 'data:') +
      'data: {"choices":[{"index":0,\ndata: "delta":{"content":"b"}}]}\n\n' +
      'event: message\n' + chunk({ content: 'c' }) +
      chunk({ content: 'd' }).replace(/\n\n$/, '\r\r') +
      chunk({ content: '' }) + chunk({ content: 'é' }) + usageChunk(2, 5) + DONE;
    const bytes = enc.encode(text);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const m = new StreamMeter({ stripUsageChunk: true });
      const out = joinBytes(feedSplit(m, bytes, [cut])).toString();
      expect(m.facts.tokenEvents, `cut ${cut}`).toBe(5);
      expect(m.facts.usage?.completion).toBe(5);
      expect(m.facts.sawDone).toBe(true);
      expect(out).toBe(text.replace(usageChunk(2, 5), ''));
    }
  });
});
