/**
 * Tracing on, end to end on loopback: the official `openai` SDK → tokentap → the simulator, tokentap's spans
 * exported over OTLP/HTTP to a receiver that decodes them with the OpenTelemetry project's own protobuf
 * definitions. A span's attributes are asserted against the access log's record of the same request.
 */
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTokentap, type RunningTokentap } from '../../src/server.js';
import { startSimulator, type RunningSim } from '../../src/sim/server.js';
import { eventually, readLogLines } from '../helpers/stack.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './otlp-receiver.js';

const PROMPT = 'the secret recipe is 42 parts basil';
const API_KEY = 'sk-never-in-a-span-0123456789';

let sim: RunningSim;
let tap: RunningTokentap;
let receiver: OtlpReceiver;
let openai: OpenAI;
let logFile: string;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  sim = await startSimulator({ port: 0, ttftMs: 30, itlMs: 5 });
  logFile = join(mkdtempSync(join(tmpdir(), 'tokentap-trace-')), 'access.log');
  tap = await startTokentap(
    { upstream: sim.url, host: '127.0.0.1', port: 0, metrics_host: '127.0.0.1', metrics_port: 0, access_log: logFile, tracing_endpoint: receiver.url },
    { env: { OTEL_BSP_SCHEDULE_DELAY: '20', OTEL_SERVICE_NAME: 'tokentap-under-test' } },
  );
  openai = new OpenAI({ baseURL: `${tap.proxyUrl}/v1`, apiKey: API_KEY, maxRetries: 0 });
});

afterAll(async () => {
  await tap?.close();
  await sim?.close();
  await receiver?.close();
});

/** The span and the access-log line of the request with this id. */
async function spanAndLog(requestId: string): Promise<{ span: ReceivedSpan; log: Record<string, unknown> }> {
  let found: { span: ReceivedSpan; log: Record<string, unknown> } | undefined;
  await eventually(() => {
    const span = receiver.spans.find((s) => s.attributes['tokentap.request_id'] === requestId);
    const log = readLogLines(logFile).find((l) => l.request_id === requestId);
    if (!span || !log) throw new Error(`no span or access-log line yet for ${requestId}`);
    found = { span, log };
    return true;
  }, 15_000);
  return found!;
}

const ms = (ns: bigint) => Number(ns) / 1e6;

describe('tracing: one span per request (GenAI conventions)', () => {
  it('a streamed chat completion: name, kind, GenAI and HTTP attributes, TTFT, tokens, the first_token event', async () => {
    const before = Date.now();
    const { data: stream, response } = await openai.chat.completions
      .create({ model: 'sim-model', stream: true, messages: [{ role: 'user', content: PROMPT }] })
      .withResponse();
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    const after = Date.now();
    expect(text.length).toBeGreaterThan(0);
    const requestId = response.headers.get('x-request-id')!;
    const { span, log } = await spanAndLog(requestId);

    expect(span.name).toBe('chat sim-model');
    expect(span.kind).toBe('SPAN_KIND_SERVER');
    expect(span.parentSpanId).toBe('');
    expect(span.scope).toBe('tokentap');
    expect(span.resource['service.name']).toBe('tokentap-under-test');
    expect(span.status.code).toBe('STATUS_CODE_UNSET');
    const port = Number(new URL(sim.url).port);
    expect(span.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'sim-model',
      'gen_ai.usage.input_tokens': log.prompt_tokens,
      'gen_ai.usage.output_tokens': log.completion_tokens,
      'server.address': '127.0.0.1',
      'server.port': port,
      'http.request.method': 'POST',
      'http.response.status_code': 200,
      'url.path': '/v1/chat/completions',
      'tokentap.outcome': 'ok',
      'tokentap.request_id': requestId,
      'tokentap.usage': 'reported',
      'tokentap.stream': true,
    });
    expect(log.completion_tokens).toBeGreaterThan(1);
    expect(span.attributes['gen_ai.provider.name']).toBeUndefined(); // not api.openai.com: unknown, not guessed
    // the meter's figures, as the access log has them (rounded there to 0.001 ms)
    expect(span.attributes['tokentap.ttft_ms']).toBeCloseTo(log.ttft_ms as number, 2);
    expect(span.attributes['tokentap.ttfc_ms']).toBeCloseTo(log.ttfc_ms as number, 2);
    expect(span.attributes['tokentap.tpot_ms']).toBeCloseTo(log.tpot_ms as number, 2);
    expect(span.attributes['tokentap.ttft_ms']).toBeGreaterThanOrEqual(30); // the simulator's TTFT
    // start = the request's arrival, end = start + E2E, on the wall clock
    expect(ms(span.startNs)).toBeGreaterThanOrEqual(before - 5);
    expect(ms(span.endNs)).toBeLessThanOrEqual(after + 5);
    expect(ms(span.endNs - span.startNs)).toBeCloseTo(log.e2e_ms as number, 1);
    expect(span.events.map((e) => e.name)).toEqual(['first_token']);
    expect(ms(span.events[0].timeNs - span.startNs)).toBeCloseTo(log.ttft_ms as number, 1);
  });

  it('a non-streamed chat completion and an embeddings request', async () => {
    const { data: completion, response } = await openai.chat.completions
      .create({ model: 'sim-model', messages: [{ role: 'user', content: PROMPT }] })
      .withResponse();
    const chat = await spanAndLog(response.headers.get('x-request-id')!);
    expect(chat.span.name).toBe('chat sim-model');
    expect(chat.span.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.usage.input_tokens': completion.usage!.prompt_tokens,
      'gen_ai.usage.output_tokens': completion.usage!.completion_tokens,
      'http.response.status_code': 200,
      'tokentap.outcome': 'ok',
      'tokentap.usage': 'reported',
      'tokentap.stream': false,
    });
    expect(chat.span.attributes['tokentap.ttft_ms']).toBeUndefined();
    expect(chat.span.events).toEqual([]);

    const { data: emb, response: r2 } = await openai.embeddings.create({ model: 'sim-embed', input: PROMPT }).withResponse();
    const e = await spanAndLog(r2.headers.get('x-request-id')!);
    expect(e.span.name).toBe('embeddings sim-embed');
    expect(e.span.attributes).toMatchObject({ 'gen_ai.operation.name': 'embeddings', 'gen_ai.usage.input_tokens': emb.usage.prompt_tokens, 'url.path': '/v1/embeddings' });
    expect(e.span.attributes['gen_ai.usage.output_tokens']).toBeUndefined();
  });

  it('an error answer sets the span status ERROR with the outcome; a non-GenAI path is a plain HTTP span', async () => {
    const res = await fetch(`${tap.proxyUrl}/v1/chat/completions?key=querysecret`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-sim-fault': 'http-500' },
      body: JSON.stringify({ model: 'sim-model', messages: [{ role: 'user', content: PROMPT }] }),
    });
    await res.arrayBuffer();
    expect(res.status).toBe(500);
    const failed = await spanAndLog(res.headers.get('x-request-id')!);
    expect(failed.span.status).toEqual({ code: 'STATUS_CODE_ERROR', message: 'upstream_error' });
    expect(failed.span.attributes).toMatchObject({ 'error.type': 'upstream_error', 'tokentap.outcome': 'upstream_error', 'http.response.status_code': 500 });
    expect(failed.span.attributes['url.path']).toBe('/v1/chat/completions'); // the query (a key may ride in it) is not kept

    const models = await fetch(`${tap.proxyUrl}/v1/models`);
    await models.arrayBuffer();
    const plain = await spanAndLog(models.headers.get('x-request-id')!);
    expect(plain.span.name).toBe('GET');
    expect(plain.span.attributes['gen_ai.operation.name']).toBeUndefined();
    expect(plain.span.attributes).toMatchObject({ 'http.request.method': 'GET', 'url.path': '/v1/models', 'http.response.status_code': 200 });
  });

  it('requests tokentap refuses before routing (CONNECT, an unmet Expect, bytes that are no request) have a span too', async () => {
    const { hostname, port } = new URL(tap.proxyUrl);
    /** Writes `bytes` on a new connection; resolves with the x-request-id tokentap answered with. */
    const raw = (bytes: string) =>
      new Promise<string>((resolve, reject) => {
        let got = '';
        const s = connect(Number(port), hostname, () => s.write(bytes));
        s.on('data', (b) => (got += b.toString('latin1')));
        s.on('error', reject);
        s.on('close', () => {
          const id = /x-request-id: ([^\r\n]+)/i.exec(got)?.[1];
          if (id === undefined) reject(new Error(`no x-request-id in ${JSON.stringify(got.slice(0, 200))}`));
          else resolve(id);
        });
        setTimeout(() => s.destroy(), 10_000).unref();
      });
    const cases = [
      { bytes: 'CONNECT evil:443 HTTP/1.1\r\nhost: evil:443\r\n\r\n', name: 'CONNECT', status: 405 },
      { bytes: 'POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nexpect: 200-ok\r\nconnection: close\r\ncontent-length: 2\r\n\r\n{}', name: 'POST', status: 417 },
      { bytes: 'NOT A REQUEST\r\n\r\n', name: '-', status: 400 },
    ];
    for (const c of cases) {
      const requestId = await raw(c.bytes);
      const { span, log } = await spanAndLog(requestId);
      expect(span.name).toBe(c.name);
      expect(span.status).toEqual({ code: 'STATUS_CODE_ERROR', message: 'rejected' });
      expect(span.attributes['http.response.status_code']).toBe(c.status);
      expect(log.outcome).toBe('rejected');
    }
  });

  it('no prompt, completion, key or header value is ever exported', async () => {
    await receiver.waitForSpans(5);
    const exported = JSON.stringify(receiver.spans, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
    for (const secret of [PROMPT, 'basil', API_KEY, 'Bearer', 'querysecret', 'lorem', 'OpenAI/JS']) expect(exported).not.toContain(secret);
    const raw = Buffer.concat(receiver.bodies).toString('latin1');
    for (const secret of [PROMPT, API_KEY, 'querysecret']) expect(raw).not.toContain(secret);
  });

  it('exports over OTLP/HTTP protobuf to {tracing_endpoint}/v1/traces', () => {
    expect(receiver.requests.length).toBeGreaterThan(0);
    for (const r of receiver.requests) {
      expect(r.path).toBe('/v1/traces');
      expect(r.headers['content-type']).toBe('application/x-protobuf');
    }
  });
});
