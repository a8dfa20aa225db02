/** A slow client against a fast upstream: tokentap holds a bounded amount, and back-pressure reaches the upstream socket. */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { afterEach, expect, it } from 'vitest';
import type { RunningTokentap } from '../../src/server.js';
import { metricSum, scrape } from '../helpers/prom.js';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream.js';
import { startTap } from '../helpers/tap.js';
import { eventually } from '../helpers/wait.js';

let up: RawUpstream;
let tap: RunningTokentap;
afterEach(async () => {
  await tap.close();
  await up.close();
});

const EVENT = `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"${'x'.repeat(900)}"},"logprobs":null,"finish_reason":null}]}\n\n`;
const TOTAL_EVENTS = 40_000; // ~38 MB if nothing pushed back

it('slow client: upstream writes stall while the client does not read; everything arrives once it does', async () => {
  let written = 0;
  let done = false;
  up = await startRawUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    let i = 0;
    const pump = () => {
      while (i < TOTAL_EVENTS) {
        i++;
        written += EVENT.length;
        if (!res.write(EVENT)) return void res.once('drain', pump);
      }
      res.end('data: [DONE]\n\n', () => (done = true));
    };
    pump();
  });
  tap = await startTap(up.url);

  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpRequest(`${tap.proxyUrl}/v1/chat/completions`, { method: 'POST' });
    req.on('response', resolve).on('error', reject).end('{"model":"m","stream":true}');
  });
  res.pause();
  // The client reads nothing for a while: the upstream must be held back. What was written sits in the loopback
  // sockets' kernel buffers (measured here: ~8 MiB over both hops) plus tokentap's stream buffers (tens of KiB).
  await new Promise((r) => setTimeout(r, 1000));
  const heldBack = written;
  expect(heldBack).toBeLessThan(16 * 1024 * 1024);
  expect(done).toBe(false);
  await new Promise((r) => setTimeout(r, 500));
  expect(written - heldBack).toBeLessThan(1024 * 1024); // no progress while the client sleeps

  // Now read slowly, a piece at a time, then drain: every byte arrives, in order.
  let received = 0;
  let last = '';
  for await (const piece of res) {
    received += (piece as Buffer).length;
    last = (piece as Buffer).toString().slice(-20);
  }
  expect(received).toBe(TOTAL_EVENTS * EVENT.length + 'data: [DONE]\n\n'.length);
  expect(last.endsWith('data: [DONE]\n\n')).toBe(true);
  await eventually(async () => metricSum(await scrape(tap.metricsUrl), 'tokentap_requests_total', { outcome: 'ok' }) === 1);
  const m = await scrape(tap.metricsUrl);
  expect(metricSum(m, 'tokentap_tokens_total', { type: 'completion' })).toBe(TOTAL_EVENTS);
});
