import { describe, expect, it } from 'vitest';
import { CHAT_PATH, nextEvent, postJson, postSse, rawRequest, sleep, waitFor, withSim, type SseEvent } from './helpers.js';

const body = { model: 'm', messages: [{ role: 'user', content: 'time me' }], stream: true };
const tokenEvents = (events: SseEvent[]): SseEvent[] => events.filter((e) => e.json?.choices?.[0]?.delta?.content);

// The machine may be loaded: lower bounds are strict (the simulator never sends
// early), upper bounds are generous.
describe('timing', () => {
  it('sends the role chunk at once, the first token after ttft, then one chunk per itl', async () => {
    await withSim({ ttftMs: 150, itlMs: 100, outputTokens: 6 }, async (sim) => {
      const s = await postSse(sim.url + CHAT_PATH, body);
      const role = s.events[0]!;
      expect(role.json.choices[0].delta).toEqual({ role: 'assistant', content: '' });
      const toks = tokenEvents(s.events);
      expect(toks).toHaveLength(6);
      // The role chunk is not held back by ttft: it arrives well before the first token.
      expect(toks[0]!.at - role.at).toBeGreaterThan(50);
      const first = toks[0]!.at - s.start;
      expect(first).toBeGreaterThanOrEqual(150);
      expect(first).toBeLessThan(150 + 400);
      const last = toks[5]!.at - s.start;
      expect(last).toBeGreaterThanOrEqual(150 + 5 * 100);
      expect(last).toBeLessThan(150 + 5 * 100 + 400);
      const gaps = toks.slice(1).map((e, i) => e.at - toks[i]!.at);
      const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
      // tokens sent together would show a mean near 0; a 100 ms gap leaves room for a ~400 ms stall of the first
      expect(mean).toBeGreaterThan(15);
      expect(mean).toBeLessThan(250);
    });
  });

  it('does not drift: chunk k is scheduled from the request start', async () => {
    await withSim({ ttftMs: 20, itlMs: 4, outputTokens: 60 }, async (sim) => {
      const s = await postSse(sim.url + CHAT_PATH, body);
      const toks = tokenEvents(s.events);
      expect(toks).toHaveLength(60);
      const total = toks[59]!.at - s.start;
      expect(total).toBeGreaterThanOrEqual(20 + 59 * 4);
      // Accumulating setTimeout error would add >= ~1 ms per chunk.
      expect(total).toBeLessThan(20 + 59 * 4 + 300);
    });
  });

  it('honours x-sim-ttft-ms / x-sim-itl-ms per request, and non-streaming waits for the last token', async () => {
    await withSim({ ttftMs: 1000, itlMs: 1000, outputTokens: 3 }, async (sim) => {
      const s = await postSse(sim.url + CHAT_PATH, body, { 'x-sim-ttft-ms': '60', 'x-sim-itl-ms': '30' });
      const toks = tokenEvents(s.events);
      expect(toks[0]!.at - s.start).toBeGreaterThanOrEqual(60);
      expect(toks[2]!.at - s.start).toBeGreaterThanOrEqual(60 + 2 * 30);
      expect(toks[2]!.at - s.start).toBeLessThan(60 + 2 * 30 + 400);
      const t = performance.now();
      const r = await postJson(sim.url + CHAT_PATH, { ...body, stream: false }, { 'x-sim-ttft-ms': '50', 'x-sim-itl-ms': '25' });
      const took = performance.now() - t;
      expect(r.json.usage.completion_tokens).toBe(3);
      expect(took).toBeGreaterThanOrEqual(50 + 2 * 25);
      expect(took).toBeLessThan(50 + 2 * 25 + 400);
    });
  });

  it('stops generating at once when the client disconnects', async () => {
    await withSim({ ttftMs: 0, itlMs: 20, outputTokens: 1000 }, async (sim) => {
      const ac = new AbortController();
      const res = await fetch(sim.url + CHAT_PATH, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: ac.signal });
      const reader = res.body!.getReader();
      let seen = '';
      while ((seen.match(/"content":"[^"]/g) ?? []).length < 3) seen += new TextDecoder().decode((await reader.read()).value);
      const abort = nextEvent<{ id: number; at: number }>(sim, 'abort');
      const end = nextEvent<{ outcome: string }>(sim, 'end');
      const t = performance.now();
      ac.abort();
      const a = await abort;
      // 1,000 tokens every 20 ms is 20 s; a wide bound, so a loaded CI runner cannot trip it (100-200 ms bounds did)
      expect(a.at - t).toBeLessThan(3000);
      expect((await end).outcome).toBe('aborted');
      expect(sim.stats.aborted).toBe(1);
      expect(sim.stats.active).toBe(0);
      expect(sim.stats.completed).toBe(0);
    });
  });
});

describe('back-pressure', () => {
  it('a client that does not read stops the server writing; reading resumes it', async () => {
    await withSim({ ttftMs: 0, itlMs: 0 }, async (sim) => {
      let drains = 0;
      sim.events.on('drain', () => drains++);
      const blocked = nextEvent<{ id: number }>(sim, 'backpressure');
      const sock = rawRequest(sim.port, CHAT_PATH, body, { 'x-sim-output-tokens': '10000000', 'x-sim-tokens-per-chunk': '10000' });
      sock.pause(); // never read: kernel buffers fill, then res.write() returns false
      await blocked;
      expect(sim.stats.backpressure).toBe(1);
      await sleep(300);
      expect(drains).toBe(0);
      expect(sim.stats.backpressure).toBe(1); // still waiting on the same write
      expect(sim.stats.active).toBe(1);
      let received = 0;
      sock.on('data', (d: Buffer) => (received += d.length));
      sock.resume();
      await waitFor(() => drains > 0);
      expect(received).toBeGreaterThan(0);
      const abort = nextEvent(sim, 'abort');
      sock.destroy();
      await abort;
      await waitFor(() => sim.stats.active === 0);
      expect(sim.stats.aborted).toBe(1);
    });
  });
});
