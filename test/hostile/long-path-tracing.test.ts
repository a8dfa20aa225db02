/**
 * Tracing, a hostile request target: every span keeps the request's path (`url.path`), and a client may send a
 * path of nearly the whole header limit. Kept whole, 2,000 requests with a 15 KB path held 30 MB more heap
 * while a stalled collector kept their spans queued (up to OTEL_BSP_MAX_QUEUE_SIZE, 2,048, per process), and
 * each export batch carried megabytes of paths. The path is cut (MAX_PATH_CHARS), as the model name is, and
 * copied: a V8 slice of the target would keep the whole 15 KB alive.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_PATH_CHARS } from '../../src/trace/request-span.js';
import { startOtlpReceiver, type OtlpReceiver } from '../trace/otlp-receiver.js';
import { startHostile, type Hostile } from './harness.js';

let h: Hostile;
let receiver: OtlpReceiver | undefined;
let stalled: Server | undefined;
afterEach(async () => {
  await h?.close();
  await receiver?.close();
  stalled?.closeAllConnections();
  stalled?.close();
});

const LONG_PATH = `/v1/files/${'p'.repeat(15_000)}`;

describe('a request target of 15 KB (tracing)', () => {
  it('is cut in the span to MAX_PATH_CHARS; the request itself is forwarded whole', async () => {
    receiver = await startOtlpReceiver();
    h = await startHostile({ tracing_endpoint: receiver.url });
    const res = await h.request(`${LONG_PATH}?key=sk-in-query`, { headers: { 'x-request-id': 'long-path' } });
    expect(res.statusCode).toBe(404); // the simulator's answer to an unknown path: it got the whole path
    await res.body.text();
    await h.expectClean(1);
    await h.tap.close(); // flushes the spans
    const span = (await receiver.waitForSpans(2)).find((s) => s.attributes['tokentap.request_id'] === 'long-path')!;
    expect(span.attributes['url.path']).toBe(LONG_PATH.slice(0, MAX_PATH_CHARS));
    expect(MAX_PATH_CHARS).toBeLessThanOrEqual(2048);
    expect(JSON.stringify(span.attributes)).not.toContain('sk-in-query');
  });

  it('600 such requests with a stalled collector: the queued spans hold kilobytes each, not the 15 KB paths', { timeout: 120_000 }, async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const held: IncomingMessage[] = [];
    stalled = createServer((req) => void held.push(req)); // takes the export, never answers
    await new Promise<void>((r) => stalled!.listen(0, '127.0.0.1', r));
    h = await startHostile({ tracing_endpoint: `http://127.0.0.1:${(stalled.address() as AddressInfo).port}` });
    const agent = new Agent({ connections: 50 });
    const burst = async (n: number, path: string) => {
      for (let i = 0; i < n; i += 50) {
        await Promise.all(
          Array.from({ length: 50 }, async () => {
            const res = await request(`${h.tap.proxyUrl}${path}`, { dispatcher: agent });
            await res.body.text();
          }),
        );
      }
    };
    await burst(100, '/v1/models'); // warm-up
    gc();
    const before = process.memoryUsage().heapUsed;
    await burst(600, LONG_PATH);
    gc();
    const growthMb = (process.memoryUsage().heapUsed - before) / 1e6;
    await agent.close();
    expect(growthMb, `heap growth ${growthMb.toFixed(1)} MB`).toBeLessThan(6); // kept whole: 600 × 15 KB = 9 MB and more
    await h.expectClean(700);
  });
});
