/**
 * Findings 3 and 4, against real sockets: percent-encoded paths are metered as the upstream routes them (or
 * refused where decoding would change the endpoint); the base path cannot be escaped; absolute-form targets,
 * CONNECT and OPTIONS * get answers of their own. Finding 14: client-sent X-Forwarded-Host/-Proto are replaced.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream.js';
import { metricSum, startHostile, type Hostile } from './harness.js';

let h: Hostile;
let up: RawUpstream | undefined;
afterEach(async () => {
  await h?.close();
  await up?.close();
  up = undefined;
});

const chatBody = JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] });
const post = (path: string, body = chatBody) =>
  `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

/** An upstream that records request targets and answers every request 200 with a small JSON body. */
async function recordingUpstream(): Promise<RawUpstream> {
  return startRawUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"object":"list","data":[]}');
  });
}

describe('percent-encoded paths (finding 3)', () => {
  it('POST /v1/chat/%63ompletions is metered as chat_completions, with usage injected', async () => {
    h = await startHostile();
    const answer = await h.raw(post('/v1/chat/%63ompletions'));
    expect(answer).toMatch(/^HTTP\/1.1 200 /);
    expect(answer).not.toContain('"choices":[]'); // the injected usage chunk was stripped
    expect(h.sim!.lastRequestBody()).toContain('"include_usage":true');
    await h.expectClean(1);
    expect(h.logLines()[0]).toMatchObject({ endpoint: 'chat_completions', model: 'm', usage: 'reported', completion_tokens: 8 });
  });

  it('POST /v1/chat%2Fcompletions is refused 400 (decoding would change the endpoint), counted as rejected, never forwarded', async () => {
    h = await startHostile();
    const answer = await h.raw(post('/v1/chat%2Fcompletions'));
    expect(answer).toMatch(/^HTTP\/1.1 400 /);
    expect(answer).toContain('"code":"bad_request_target"');
    expect(h.sim!.stats.requests).toBe(0);
    await h.expectClean(1);
    expect(metricSum(await h.metrics(), 'tokentap_requests_total', { outcome: 'rejected', code: '400' })).toBe(1);
  });

  it('GET /v1/models/org%2Fmodel passes as sent', async () => {
    up = await recordingUpstream();
    h = await startHostile({}, up.url);
    expect(await h.raw('GET /v1/models/org%2Fmodel HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')).toMatch(/^HTTP\/1.1 200 /);
    expect(up.requests[0].url).toBe('/v1/models/org%2Fmodel');
    await h.expectClean(1);
  });
});

describe('the base path cannot be escaped (finding 4)', () => {
  for (const [target, expected] of [
    ['/../tenant-b/v1/models', '/tenant-a/tenant-b/v1/models'],
    ['/v1/../../../tenant-b/v1/models', '/tenant-a/tenant-b/v1/models'],
    ['/%2e%2e/tenant-b/v1/models', '/tenant-a/tenant-b/v1/models'],
    ['/v1/./models?q=/../x', '/tenant-a/v1/models?q=/../x'],
  ] as const) {
    it(`GET ${target} reaches the upstream as ${expected}`, async () => {
      up = await recordingUpstream();
      h = await startHostile({}, `${up.url}/tenant-a/v1`);
      expect(await h.raw(`GET ${target} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`)).toMatch(/^HTTP\/1.1 200 /);
      expect(up.requests[0].url).toBe(expected);
      await h.expectClean(1);
    });
  }

  it('an absolute-form target naming another host is refused 400, never forwarded', async () => {
    up = await recordingUpstream();
    h = await startHostile({}, `${up.url}/tenant-a/v1`);
    const answer = await h.raw('GET http://evil/x HTTP/1.1\r\nhost: evil\r\nconnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1.1 400 /);
    expect(answer).toContain('not a forward proxy');
    expect(up.requests).toHaveLength(0);
    await h.expectClean(1);
  });

  it("an absolute-form target naming tokentap itself is used in origin form", async () => {
    up = await recordingUpstream();
    h = await startHostile({}, `${up.url}/tenant-a/v1`);
    const { port } = new URL(h.tap.proxyUrl);
    const answer = await h.raw(`GET http://127.0.0.1:${port}/v1/models HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1.1 200 /);
    expect(up.requests[0].url).toBe('/tenant-a/v1/models');
    await h.expectClean(1);
  });

  it('CONNECT is answered 405 and counted as rejected', async () => {
    h = await startHostile();
    const answer = await h.raw('CONNECT evil:443 HTTP/1.1\r\nhost: evil:443\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1.1 405 /);
    await h.expectClean(1);
    expect(h.logLines()[0]).toMatchObject({ method: 'CONNECT', status: 405, outcome: 'rejected' });
  });

  it('OPTIONS * is answered 204 with Allow, not a 502', async () => {
    h = await startHostile();
    const answer = await h.raw('OPTIONS * HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1.1 204 /);
    expect(answer.toLowerCase()).toContain('allow: get, post');
    expect(h.sim!.stats.requests).toBe(0);
    await h.expectClean(1);
    expect(h.logLines()[0]).toMatchObject({ method: 'OPTIONS', status: 204, outcome: 'ok' });
  });
});

describe('spoofed forwarding headers (finding 14)', () => {
  it('client-sent X-Forwarded-Host/-Proto are replaced by tokentap’s own view; X-Forwarded-For is appended to', async () => {
    up = await recordingUpstream();
    h = await startHostile({}, up.url);
    const answer = await h.raw(
      'GET /v1/models HTTP/1.1\r\nhost: proxy.example\r\nx-forwarded-host: evil\r\nx-forwarded-proto: https\r\nx-forwarded-for: 10.9.9.9\r\nconnection: close\r\n\r\n',
    );
    expect(answer).toMatch(/^HTTP\/1.1 200 /);
    expect(up.requests[0].headers).toMatchObject({ 'x-forwarded-host': 'proxy.example', 'x-forwarded-proto': 'http', 'x-forwarded-for': '10.9.9.9, 127.0.0.1' });
    await h.expectClean(1);
  });

  it('with trust_forwarded_headers, the client (a trusted proxy) decides', async () => {
    up = await recordingUpstream();
    h = await startHostile({ trust_forwarded_headers: true }, up.url);
    await h.raw('GET /v1/models HTTP/1.1\r\nhost: proxy.example\r\nx-forwarded-host: public.example\r\nx-forwarded-proto: https\r\nconnection: close\r\n\r\n');
    expect(up.requests[0].headers).toMatchObject({ 'x-forwarded-host': 'public.example', 'x-forwarded-proto': 'https' });
    await h.expectClean(1);
  });
});
