/**
 * Tracing, a hostile model name: the span's name and `gen_ai.request.model` keep at most MAX_MODEL_CHARS of
 * it, but they were V8 slices of the decoded name, which keep the whole string alive: a client's 1 MB model
 * name (body_limit is 64 MiB) stayed in memory for as long as its span waited in the export queue (up to
 * 2,048 spans per process, for as long as a collector stalls): 100 requests held 102 MB, a full queue of such
 * spans would hold gigabytes. The cut name is a copy (now 2 MB for the 100).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startForgetfulUpstream } from '../helpers/raw-upstream.js';
import { startHostile, type Hostile } from './harness.js';

let h: Hostile;
let stalled: Server | undefined;
let upstream: { close(): Promise<void> } | undefined;
afterEach(async () => {
  await h?.close();
  stalled?.closeAllConnections();
  stalled?.close();
  await upstream?.close();
});

const ANSWER = '{"object":"chat.completion","model":"m","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}';


describe('a model name of 1 MB with a stalled collector (tracing)', () => {
  it('100 such requests: the queued spans do not keep the names (heap grows by kilobytes per span)', { timeout: 120_000 }, async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const held: IncomingMessage[] = [];
    stalled = createServer((req) => void held.push(req)); // takes the export, never answers
    await new Promise<void>((r) => stalled!.listen(0, '127.0.0.1', r));
    h = await startHostile({ tracing_endpoint: `http://127.0.0.1:${(stalled.address() as AddressInfo).port}` }, (upstream = await startForgetfulUpstream(ANSWER)).url);
    const agent = new Agent({ connections: 10 });
    const send = async (model: string) => {
      const res = await request(`${h.tap.proxyUrl}/v1/chat/completions`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, max_tokens: 1, messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(res.statusCode).toBe(200);
      await res.body.text();
    };
    for (let i = 0; i < 10; i++) await send('warm-up');
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 100; i += 10) {
      await Promise.all(Array.from({ length: 10 }, (_, j) => send(`${i + j}-${'m'.repeat(1_000_000)}`)));
    }
    gc();
    const growthMb = (process.memoryUsage().heapUsed - before) / 1e6;
    await agent.close();
    expect(growthMb, `heap growth ${growthMb.toFixed(1)} MB`).toBeLessThan(20); // kept whole: 102 MB
    await h.expectClean(110);
  });
});
