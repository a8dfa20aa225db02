/**
 * Tracing, a hostile trace context: a client's `traceparent` of a future version may carry anything after its
 * flags (`01-…-01-` + kilobytes is valid), and a `tracestate` may be as long as the header limit. The extracted
 * trace id and parent span id were V8 slices of the traceparent, and OpenTelemetry's TraceState keeps its raw
 * header for good (it forwards at most 512 characters of it): each queued span kept both headers whole, and
 * each TTFT/E2E bucket's exemplar kept the traceparent. With a stalled collector, 600 such requests (9 KB and
 * 5.5 KB: the two must fit the 16 KB header limit together) held 12.7 MB more heap (now 3.9 MB) (the queue holds 2,048 spans per process). The client's context is copied into tokentap's
 * span at its own size: ids of 32 and 16 hex digits, the trace state as forwarded.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startHostile, type Hostile } from './harness.js';

let h: Hostile;
const servers: Server[] = [];
afterEach(async () => {
  await h?.close();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const ANSWER = '{"object":"chat.completion","model":"m","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}';

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('a 9 KB traceparent and a 5.5 KB tracestate with a stalled collector (tracing)', () => {
  it('600 such requests: queued spans and exemplars do not keep the headers; the upstream gets the trace continued', { timeout: 120_000 }, async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const received: { traceparent?: string; tracestate?: string }[] = [];
    const upstream = await listen(
      createServer((req, res) => {
        if (received.length < 5) received.push({ traceparent: req.headers.traceparent as string | undefined, tracestate: req.headers.tracestate as string | undefined });
        req.resume();
        req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(ANSWER));
      }),
    );
    const held: IncomingMessage[] = [];
    const stalled = createServer((req) => void held.push(req)); // takes the export, never answers
    h = await startHostile({ tracing_endpoint: await listen(stalled) }, upstream);
    const agent = new Agent({ connections: 50 });
    const headers = (i: number) => ({
      'content-type': 'application/json',
      traceparent: `01-${TRACE}-${SPAN}-01-${i}${'f'.repeat(9_000)}`, // a future version: the suffix is allowed
      tracestate: `a=${i},${Array.from({ length: 500 }, (_, k) => `k${k}=${'v'.repeat(6)}`).join(',')}`,
    });
    const burst = async (n: number) => {
      for (let i = 0; i < n; i += 50) {
        await Promise.all(
          Array.from({ length: 50 }, async (_, j) => {
            const res = await request(`${h.tap.proxyUrl}/v1/chat/completions`, {
              method: 'POST',
              dispatcher: agent,
              headers: headers(i + j),
              body: '{"model":"m","messages":[{"role":"user","content":"hi"}]}',
            });
            expect(res.statusCode).toBe(200);
            await res.body.text();
          }),
        );
      }
    };
    await burst(100); // warm-up
    gc();
    const before = process.memoryUsage().heapUsed;
    await burst(600);
    gc();
    const growthMb = (process.memoryUsage().heapUsed - before) / 1e6;
    await agent.close();
    expect(growthMb, `heap growth ${growthMb.toFixed(1)} MB`).toBeLessThan(7); // kept whole: 12.7 MB
    // the trace is continued, with tokentap's span as the parent and the trace state cut as OpenTelemetry cuts it
    expect(received[0].traceparent).toMatch(new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
    expect(received[0].traceparent).not.toContain(SPAN);
    expect(received[0].tracestate!.length).toBeLessThanOrEqual(512);
    expect(received[0].tracestate!.startsWith('a=0,k0=vvvvvv,k1=vvvvvv')).toBe(true);
    stalled.closeAllConnections(); // the exports fail: their connections close before fds are counted
    stalled.close();
    await h.expectClean(700);
  });
});
