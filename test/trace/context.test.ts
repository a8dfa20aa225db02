/**
 * W3C trace context through tokentap, with a scripted upstream that records the headers it received: a
 * client's traceparent is continued (tokentap's span is its child), the upstream gets tokentap's span as the
 * parent, and sampling (ratio 0 and 1, parent-based on the client's flag) decides what is exported.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTokentap, type RunningTokentap } from '../../src/server.js';
import { CHAT_COMPLETION_ANSWER, startRawUpstream, type RawUpstream } from '../helpers/raw-upstream.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './otlp-receiver.js';

const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$/;

let upstream: RawUpstream;
beforeAll(async () => {
  upstream = await startRawUpstream((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(CHAT_COMPLETION_ANSWER));
});
afterAll(() => upstream?.close());

async function withTap<T>(fields: Record<string, unknown>, run: (tap: RunningTokentap, receiver: OtlpReceiver) => Promise<T>): Promise<T> {
  const receiver = await startOtlpReceiver();
  const tap = await startTokentap(
    { upstream: upstream.url, host: '127.0.0.1', port: 0, metrics_host: '127.0.0.1', metrics_port: 0, access_log: 'off', tracing_endpoint: receiver.url, ...fields },
    { env: { OTEL_BSP_SCHEDULE_DELAY: '20' } },
  );
  try {
    return await run(tap, receiver);
  } finally {
    await tap.close();
    await receiver.close();
  }
}

/** One chat request through tokentap with these extra headers; the headers the upstream received. */
async function send(tap: RunningTokentap, headers: Record<string, string> = {}) {
  const res = await fetch(`${tap.proxyUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
  });
  expect(res.status).toBe(200);
  expect(await res.text()).toBe(CHAT_COMPLETION_ANSWER);
  const requestId = res.headers.get('x-request-id')!;
  const got = upstream.requests.find((r) => r.headers['x-request-id'] === requestId)!;
  const names = got.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
  return { requestId, headers: got.headers, names };
}

const spanOf = (receiver: OtlpReceiver, requestId: string): ReceivedSpan | undefined =>
  receiver.spans.find((s) => s.attributes['tokentap.request_id'] === requestId);

async function exportedSpan(receiver: OtlpReceiver, requestId: string): Promise<ReceivedSpan> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const span = spanOf(receiver, requestId);
    if (span) return span;
    if (Date.now() > deadline) throw new Error(`no span for ${requestId}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('W3C trace context', () => {
  it("continues a client's traceparent and hands the upstream tokentap's span as the parent, with the client's tracestate", async () => {
    await withTap({}, async (tap, receiver) => {
      const sent = await send(tap, { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`, tracestate: 'vendor=abc,other=1' });
      const span = await exportedSpan(receiver, sent.requestId);
      expect(span.traceId).toBe(CLIENT_TRACE);
      expect(span.parentSpanId).toBe(CLIENT_SPAN);
      expect(span.spanId).not.toBe(CLIENT_SPAN);
      expect(sent.headers.traceparent).toBe(`00-${CLIENT_TRACE}-${span.spanId}-01`);
      expect(sent.headers.tracestate).toBe('vendor=abc,other=1');
      // replaced, not added beside the client's
      expect(sent.names.filter((n) => n === 'traceparent')).toHaveLength(1);
      expect(sent.names.filter((n) => n === 'tracestate')).toHaveLength(1);
    });
  });

  it('without a client traceparent: a root span, and the upstream gets its trace id and span id', async () => {
    await withTap({}, async (tap, receiver) => {
      const sent = await send(tap);
      const span = await exportedSpan(receiver, sent.requestId);
      expect(span.parentSpanId).toBe('');
      expect(sent.headers.traceparent).toBe(`00-${span.traceId}-${span.spanId}-01`);
      expect(sent.headers.tracestate).toBeUndefined();
    });
  });

  it('an invalid client traceparent starts a new trace (and is not forwarded)', async () => {
    await withTap({}, async (tap, receiver) => {
      const sent = await send(tap, { traceparent: 'not-a-traceparent', tracestate: 'a=b' });
      const span = await exportedSpan(receiver, sent.requestId);
      expect(span.parentSpanId).toBe('');
      expect(sent.headers.traceparent).toBe(`00-${span.traceId}-${span.spanId}-01`);
    });
  });
});

describe('hostile trace context and names', () => {
  it('an oversized tracestate is not carried on; an oversized model name is cut in the span', async () => {
    await withTap({}, async (tap, receiver) => {
      const sent = await send(tap, { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`, tracestate: `k=${'v'.repeat(8000)}` });
      expect(sent.headers.tracestate === undefined || String(sent.headers.tracestate).length <= 512).toBe(true);
      expect(String(sent.headers.traceparent)).toMatch(new RegExp(`^00-${CLIENT_TRACE}-[0-9a-f]{16}-01$`));
      const long = 'm'.repeat(5000);
      const res = await fetch(`${tap.proxyUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: long, messages: [{ role: 'user', content: 'x' }] }),
      });
      await res.arrayBuffer();
      const span = await exportedSpan(receiver, res.headers.get('x-request-id')!);
      expect(span.name).toBe(`chat ${'m'.repeat(256)}`);
      expect(span.attributes['gen_ai.request.model']).toBe('m'.repeat(256));
    });
  });
});

describe('sampling', () => {
  it('ratio 1 exports every request; ratio 0 none, yet the upstream still gets a traceparent (sampled flag off)', async () => {
    await withTap({ tracing_sample_ratio: 1 }, async (tap, receiver) => {
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push((await send(tap)).requestId);
      await receiver.waitForSpans(5);
      expect(ids.every((id) => spanOf(receiver, id) !== undefined)).toBe(true);
    });
    let receiverOfZero: OtlpReceiver | undefined;
    await withTap({ tracing_sample_ratio: 0 }, async (tap, receiver) => {
      receiverOfZero = receiver;
      for (let i = 0; i < 5; i++) {
        const sent = await send(tap);
        const m = TRACEPARENT.exec(String(sent.headers.traceparent));
        expect(m, String(sent.headers.traceparent)).not.toBeNull();
        expect(m![3]).toBe('00');
      }
    }); // close() flushed whatever was queued
    expect(receiverOfZero!.spans).toEqual([]);
  });

  it("parent-based: a client's sampled flag wins over the ratio, both ways", async () => {
    await withTap({ tracing_sample_ratio: 0 }, async (tap, receiver) => {
      const sent = await send(tap, { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` });
      const span = await exportedSpan(receiver, sent.requestId);
      expect(span.traceId).toBe(CLIENT_TRACE);
      expect(sent.headers.traceparent).toBe(`00-${CLIENT_TRACE}-${span.spanId}-01`);
    });
    let receiverOfOne: OtlpReceiver | undefined;
    await withTap({ tracing_sample_ratio: 1 }, async (tap, receiver) => {
      receiverOfOne = receiver;
      const sent = await send(tap, { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-00` });
      const m = TRACEPARENT.exec(String(sent.headers.traceparent))!;
      expect(m[1]).toBe(CLIENT_TRACE); // the trace goes on, unsampled, with tokentap's own span id
      expect(m[2]).not.toBe(CLIENT_SPAN);
      expect(m[3]).toBe('00');
    });
    expect(receiverOfOne!.spans).toEqual([]);
  });

  it('OTEL_TRACES_SAMPLER=traceidratio with OTEL_TRACES_SAMPLER_ARG samples about that share', async () => {
    const receiver = await startOtlpReceiver();
    const tap = await startTokentap(
      { upstream: upstream.url, host: '127.0.0.1', port: 0, metrics_host: '127.0.0.1', metrics_port: 0, access_log: 'off' },
      { env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.5', OTEL_BSP_SCHEDULE_DELAY: '20' } },
    );
    try {
      const n = 200;
      for (let i = 0; i < n; i += 20) await Promise.all(Array.from({ length: 20 }, () => send(tap)));
      await tap.close();
      // binomial(200, 0.5): 100 ± 7; outside 60..140 is a probability below 1e-8
      expect(receiver.spans.length).toBeGreaterThan(60);
      expect(receiver.spans.length).toBeLessThan(140);
    } finally {
      await tap.close();
      await receiver.close();
    }
  }, 60_000);
});
