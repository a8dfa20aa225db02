/**
 * Hostile clients on raw sockets: a malformed request pipelined behind a stream (finding 7), connections
 * that never send a byte and odd methods/expectations (finding 9), a client that stops reading (finding 10),
 * a too-large body still being sent when the 413 goes out (finding 15).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, metricSum, startHostile, type Hostile } from './harness.js';

const CLIENT = new URL('./clients/post-too-large.mjs', import.meta.url).pathname;

let h: Hostile;
afterEach(async () => {
  await h?.close();
});

const chatBody = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }], ...extra });
const postChat = (body: string, headers = '') =>
  `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n${headers}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

describe('a malformed request pipelined behind a stream (finding 7)', () => {
  it('the stream keeps its bytes and its outcome; the 400 follows it; each counted once', async () => {
    h = await startHostile();
    const answer = await h.raw(postChat(chatBody(), 'x-sim-itl-ms: 20\r\nx-sim-output-tokens: 10\r\n') + 'NOT A REQUEST\r\n\r\n');
    const [stream, refusal] = answer.split(/(?=HTTP\/1\.1 400 )/);
    expect(stream).toMatch(/^HTTP\/1.1 200 /);
    expect(stream).toContain('data: [DONE]');
    expect(stream.endsWith('0\r\n\r\n')).toBe(true); // the chunked body ended properly, nothing written into it
    expect(refusal).toMatch(/^HTTP\/1.1 400 /);
    await h.expectClean(2);
    const m = await h.metrics();
    expect(metricSum(m, 'tokentap_requests_total', { outcome: 'ok', endpoint: 'chat_completions' })).toBe(1);
    expect(metricSum(m, 'tokentap_requests_total', { outcome: 'rejected', code: '400' })).toBe(1);
  });
});

describe('what is not a request is not counted as one; every answer tokentap writes is (finding 9)', () => {
  it('a connection that never sends a byte is closed without an answer and counted in tokentap_connections_closed_total', async () => {
    h = await startHostile({ request_timeout: '400ms' });
    const answers = await Promise.all([h.raw('', 10_000), h.raw('', 10_000), h.raw('', 10_000)]);
    expect(answers).toEqual(['', '', '']);
    await h.expectClean(0);
    const m = await h.metrics();
    expect(metricSum(m, 'tokentap_connections_closed_total', { reason: 'idle_timeout' })).toBe(3);
    expect(h.logLines().some((l) => l.method === '-')).toBe(false);
  });

  it('a request cut after its first bytes is a request: 408, rejected', async () => {
    h = await startHostile({ request_timeout: '400ms' });
    expect(await h.raw('GET /v1/mod', 10_000)).toMatch(/^HTTP\/1.1 408 /);
    await h.expectClean(1);
    expect(metricSum(await h.metrics(), 'tokentap_connections_closed_total')).toBe(0);
  });

  it('Expect: 200-ok is answered 417 and counted as rejected', async () => {
    h = await startHostile();
    const answer = await h.raw(postChat(chatBody(), 'expect: 200-ok\r\n'));
    expect(answer).toMatch(/^HTTP\/1.1 417 /);
    expect(h.sim!.stats.requests).toBe(0);
    await h.expectClean(1);
    expect(h.logLines()[0]).toMatchObject({ method: 'POST', status: 417, outcome: 'rejected' });
  });
});

describe('a client that stops reading (finding 10)', () => {
  it('after client_send_timeout the upstream stream is aborted and the request recorded as client_aborted', async () => {
    h = await startHostile({ client_send_timeout: '1s' });
    const s = await h.socket();
    // a long, fast stream: the socket buffers fill in well under a second
    s.write(postChat(chatBody(), 'x-sim-ttft-ms: 0\r\nx-sim-itl-ms: 0\r\nx-sim-output-tokens: 2000000\r\n'));
    await once(s, 'data');
    s.pause(); // reads nothing more
    await eventually(() => h.sim!.stats.aborted === 1, 10_000);
    await eventually(() => h.logLines().length === 1);
    expect(h.logLines()[0], JSON.stringify(h.logLines()[0])).toMatchObject({ outcome: "client_aborted", status: 200 });
    s.destroy();
    await h.expectClean(1);
  });
});

describe('a too-large body still being sent when the 413 goes out (finding 15)', () => {
  for (const framing of ['content-length', 'chunked'] as const) {
    it(`${framing}: fetch() of a 65 MiB body from another process reads the 413 every time (lingering close, no reset)`, async () => {
      h = await startHostile();
      const runs = 8;
      const client = spawn(process.execPath, [CLIENT, `${h.tap.proxyUrl}/v1/chat/completions`, framing, '65', String(runs)]);
      let out = '';
      client.stdout.on('data', (d: Buffer) => (out += d.toString()));
      await once(client, 'exit');
      expect(out).toBe(Array(runs).fill('413').join(' ')); // without the lingering close: "413 413 EPIPE EPIPE …"
      await h.expectClean(runs);
      expect(metricSum(await h.metrics(), 'tokentap_requests_total', { outcome: 'rejected', code: '413' })).toBe(runs);
    });
  }
});
