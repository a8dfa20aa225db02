/** Bad input from clients: refused by the HTTP layer or forwarded untouched, counted once, never smuggled. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningTokentap } from '../../src/server.js';
import { metricSum, scrape } from '../helpers/prom.js';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream.js';
import { startTap } from '../helpers/tap.js';
import { eventually } from '../helpers/wait.js';

let up: RawUpstream;
let tap: RunningTokentap;
let logFile: string;
afterEach(async () => {
  await tap.close();
  await up.close();
});

async function start(extra: Record<string, unknown> = {}) {
  up = await startRawUpstream((_req, res) => {
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end('{"error":{"message":"upstream says no"}}');
  });
  logFile = join(mkdtempSync(join(tmpdir(), 'tokentap-bad-')), 'access.log');
  tap = await startTap(up.url, { access_log: logFile, ...extra });
}

/** Sends raw bytes on a fresh connection; resolves with everything the server sent before closing. */
function raw(bytes: string, keepOpenMs = 0): Promise<string> {
  const { hostname, port } = new URL(tap.proxyUrl);
  return new Promise((resolve) => {
    let got = '';
    const s = connect(Number(port), hostname, () => {
      s.write(bytes);
      if (keepOpenMs === 0) return;
    });
    s.on('data', (d) => (got += d.toString()));
    s.on('error', () => {});
    s.on('close', () => resolve(got));
  });
}

async function expectRejected(code: number) {
  await eventually(async () => metricSum(await scrape(tap.metricsUrl), 'tokentap_requests_total') === 1);
  const m = await scrape(tap.metricsUrl);
  expect(metricSum(m, 'tokentap_requests_total', { outcome: 'rejected', code: String(code) })).toBe(1);
  expect(metricSum(m, 'tokentap_requests_in_flight')).toBe(0);
  await eventually(() => readFileSync(logFile, 'utf8').split('\n').filter(Boolean).length === 1);
  expect(up.requests).toHaveLength(0); // nothing reached the upstream
}

describe('refused by the HTTP layer, outcome rejected', () => {
  it('10,000 headers → 431', async () => {
    await start();
    const headers = Array.from({ length: 10_000 }, (_, i) => `x-h${i}: ${i}\r\n`).join('');
    const answer = await raw(`GET /v1/models HTTP/1.1\r\nhost: x\r\n${headers}\r\n`);
    expect(answer).toMatch(/^HTTP\/1.1 431 /);
    await expectRejected(431);
  });

  it('one header over the size limit → 431', async () => {
    await start();
    const answer = await raw(`GET /v1/models HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1.1 431 /);
    await expectRejected(431);
  });

  it('Transfer-Encoding with Content-Length → 400, never forwarded (no request smuggling)', async () => {
    await start();
    const smuggled = 'GET /admin HTTP/1.1\r\nhost: x\r\n\r\n';
    const answer = await raw(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
    );
    expect(answer).toMatch(/^HTTP\/1.1 400 /);
    expect(answer.match(/HTTP\/1.1/g)).toHaveLength(1);
    await expectRejected(400);
  });

  it('a chunked body that never ends → 408 after request_timeout', async () => {
    await start({ request_timeout: '400ms' });
    const answer = await raw('POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{"mod\r\n', 1);
    expect(answer).toMatch(/^HTTP\/1.1 408 /);
    await expectRejected(408);
  });
});

describe('forwarded untouched, the upstream answers', () => {
  for (const [name, body, contentType] of [
    ['an empty body', '', 'application/json'],
    ['a wrong content-type', '{"model":"m","messages":[]}', 'text/plain'],
    ['a body that is not JSON', '{"model": oops', 'application/json'],
  ] as const) {
    it(name, async () => {
      await start();
      const res = await request(`${tap.proxyUrl}/v1/chat/completions`, { method: 'POST', body, headers: { 'content-type': contentType } });
      expect(res.statusCode).toBe(400);
      expect(await res.body.text()).toBe('{"error":{"message":"upstream says no"}}');
      expect(up.requests[0].body).toBe(body);
      expect(up.requests[0].headers['content-type']).toBe(contentType);
      await eventually(async () => metricSum(await scrape(tap.metricsUrl), 'tokentap_requests_total', { outcome: 'upstream_error', code: '400' }) === 1);
    });
  }
});
