/**
 * Finding 1: every exchange is finished exactly once on every path, tokentap's own exceptions included.
 * A failure is forced at each stage of a request (the real function throws once); each time the client gets
 * a 500 (nothing sent yet) or a cut response (headers sent), the request is counted once as
 * internal_error, in-flight returns to 0, and SIGTERM does not wait for a leaked exchange.
 */
import { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { JsonMeter } from '../../src/meter/json-meter.js';
import { StreamMeter } from '../../src/meter/stream-meter.js';
import { eventually, metricSum, startHostile, type Hostile } from './harness.js';

/** Which mocked module function throws next (once). */
const fault = vi.hoisted(() => ({ at: '' }));
const once = (stage: string) => {
  if (fault.at !== stage) return;
  fault.at = '';
  throw new Error(`forced failure: ${stage}`);
};

vi.mock('../../src/proxy/request-body.js', async (importOriginal) => {
  const orig = await importOriginal<typeof import('../../src/proxy/request-body.js')>();
  return {
    ...orig,
    inspectRequestBody: (b: Uint8Array, withUser?: boolean) => (once('inspect body'), orig.inspectRequestBody(b, withUser)),
    withIncludeUsage: (b: Uint8Array, f: Parameters<typeof orig.withIncludeUsage>[1]) => (once('inject usage'), orig.withIncludeUsage(b, f)),
  };
});
vi.mock('../../src/proxy/headers.js', async (importOriginal) => {
  const orig = await importOriginal<typeof import('../../src/proxy/headers.js')>();
  return {
    ...orig,
    upstreamRequestHeaders: (...a: Parameters<typeof orig.upstreamRequestHeaders>) => (once('upstream headers'), orig.upstreamRequestHeaders(...a)),
    clientResponseHeaders: (...a: Parameters<typeof orig.clientResponseHeaders>) => (once('response headers'), orig.clientResponseHeaders(...a)),
  };
});
vi.mock('../../src/proxy/read-body.js', async (importOriginal) => {
  const orig = await importOriginal<typeof import('../../src/proxy/read-body.js')>();
  return { ...orig, readBody: (...a: Parameters<typeof orig.readBody>) => (once('read body'), orig.readBody(...a)) };
});
vi.mock('../../src/meter/record.js', async (importOriginal) => {
  const orig = await importOriginal<typeof import('../../src/meter/record.js')>();
  return { ...orig, buildRecord: (i: Parameters<typeof orig.buildRecord>[0]) => (once('build record'), orig.buildRecord(i)) };
});

let h: Hostile;
beforeEach(() => {
  fault.at = '';
  vi.spyOn(console, 'error').mockImplementation(() => {});
});
afterEach(async () => {
  vi.restoreAllMocks();
  await h?.close();
});

const chat = (stream: boolean) =>
  h.request('/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', stream, messages: [{ role: 'user', content: 'hi' }] }),
  });

/**
 * Sends one request; resolves with its status and whether its body arrived whole (false: the response was cut;
 * status 0: cut before the status line reached the client).
 */
async function send(stream = true): Promise<{ status: number; body: string; whole: boolean }> {
  let res;
  try {
    res = await chat(stream);
  } catch {
    return { status: 0, body: '', whole: false };
  }
  try {
    return { status: res.statusCode, body: await res.body.text(), whole: true };
  } catch {
    return { status: res.statusCode, body: '', whole: false };
  }
}

async function expectInternalError(answer: { status: number; body: string; whole: boolean }, headersSent: boolean) {
  if (headersSent) expect(answer.whole).toBe(false);
  else expect(answer).toMatchObject({ status: 500, body: expect.stringContaining('"code":"internal_error"') as unknown as string, whole: true });
  await eventually(async () => metricSum(await h.metrics(), 'tokentap_requests_total', { outcome: 'internal_error' }) === 1);
  expect(console.error).toHaveBeenCalledWith(expect.stringContaining('forced failure'));
  await h.expectClean(1);
  expect(h.logLines()[0]).toMatchObject({ outcome: 'internal_error' });
}

describe('a failure of tokentap at each stage is answered, counted once, never leaked', () => {
  for (const stage of ['read body', 'inspect body', 'inject usage', 'upstream headers', 'response headers']) {
    it(`${stage}: 500, internal_error`, async () => {
      h = await startHostile();
      fault.at = stage;
      await expectInternalError(await send(), false);
    });
  }

  it('creating the exchange (metric series): 500, internal_error', async () => {
    h = await startHostile();
    vi.spyOn(h.tap.metrics, 'series').mockImplementationOnce(() => {
      throw new Error('forced failure: series');
    });
    await expectInternalError(await send(), false);
  });

  it('creating the exchange fails every time: the connection is cut, the process lives on', async () => {
    h = await startHostile();
    const series = vi.spyOn(h.tap.metrics, 'series').mockImplementation(() => {
      throw new Error('forced failure: series, always');
    });
    expect(await send()).toMatchObject({ status: 0, whole: false });
    series.mockRestore();
    await h.expectClean(0); // nothing could be counted; everything after is served and counted
  });

  it('metering a stream chunk: the stream is cut, internal_error, the upstream request aborted', async () => {
    h = await startHostile();
    vi.spyOn(StreamMeter.prototype, 'push').mockImplementationOnce(() => {
      throw new Error('forced failure: push');
    });
    await expectInternalError(await send(), true);
    await eventually(() => h.sim!.stats.active === 0);
  });

  it('the end of a stream: cut, internal_error', async () => {
    h = await startHostile();
    vi.spyOn(StreamMeter.prototype, 'end').mockImplementationOnce(() => {
      throw new Error('forced failure: end');
    });
    await expectInternalError(await send(), true);
  });

  it('metering a JSON body: cut, internal_error', async () => {
    h = await startHostile();
    vi.spyOn(JsonMeter.prototype, 'push').mockImplementationOnce(() => {
      throw new Error('forced failure: json');
    });
    await expectInternalError(await send(false), true);
  });

  it('building the record when the response finished: internal_error, counted once', async () => {
    h = await startHostile();
    fault.at = 'build record';
    const answer = await send();
    expect(answer.status).toBe(200); // the client had everything before the record was built
    await eventually(async () => metricSum(await h.metrics(), 'tokentap_requests_total', { outcome: 'internal_error' }) === 1);
    await h.expectClean(1);
  });

  it('the client writer (ServerResponse.write throws): cut, internal_error', async () => {
    h = await startHostile();
    const write = ServerResponse.prototype.write;
    let thrown = false;
    vi.spyOn(ServerResponse.prototype, 'write').mockImplementation(function (this: ServerResponse, ...args: Parameters<typeof write>) {
      if (!thrown && this.req?.url === '/v1/chat/completions') {
        thrown = true;
        throw new Error('forced failure: write');
      }
      return write.apply(this, args);
    });
    await expectInternalError(await send(false), true);
  });

  it('recording itself throws: the exchange still leaves in-flight, tokentap keeps serving', async () => {
    h = await startHostile();
    vi.spyOn(h.tap.metrics, 'record').mockImplementationOnce(() => {
      throw new Error('forced failure: record');
    });
    expect((await send()).status).toBe(200);
    await eventually(() => h.tap.active.size === 0);
    expect(metricSum(await h.metrics(), 'tokentap_requests_in_flight')).toBe(0);
    expect(console.error).toHaveBeenCalledWith(expect.stringContaining('forced failure: record'));
  });
});

describe('the body from the review (stream_options null + 5,000 nested brackets)', () => {
  it('is forwarded and metered, never a 500; SIGTERM does not wait for shutdown_grace', async () => {
    h = await startHostile({ shutdown_grace: '20s' });
    const messages = '"messages":[{"role":"user","content":"hi"}]';
    const body = `{"model":"m","stream":true,"stream_options":null,${messages},"x":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    const res = await h.request('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.statusCode).toBe(200);
    await res.body.text();
    await h.expectClean(1);
    expect(h.logLines()[0]).toMatchObject({ outcome: 'ok', model: 'unknown', endpoint: 'chat_completions' });
    const t = performance.now();
    await h.tap.close();
    expect(performance.now() - t).toBeLessThan(10_000); // nothing in flight: no grace to wait out
  });
});
