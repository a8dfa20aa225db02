/** The metrics app's shared, spaced-out rendering, and the /metrics body over real sockets. */
import { createAdaptorServer } from '@hono/node-server';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetricsApp, MAX_RENDER_PAUSE_MS, RENDER_SPACING, sharedRender } from '../../src/metrics/app.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Timers may fire up to a millisecond early against performance.now(). */
const SLACK_MS = 2;

/** A render that takes `ms`, counting its calls and returning the count. */
function slowRender(ms: number) {
  const calls: { start: number; end: number }[] = [];
  const render = async () => {
    const call = { start: performance.now(), end: 0 };
    calls.push(call);
    await sleep(ms);
    call.end = performance.now();
    return calls.length;
  };
  return { calls, render };
}

describe('sharedRender', () => {
  it('concurrent calls share one render; a call after it ended gets a new one, not the old text', async () => {
    const { calls, render } = slowRender(20);
    const shared = sharedRender(render);
    expect(await Promise.all([shared(), shared(), shared(), shared()])).toEqual([1, 1, 1, 1]);
    expect(await shared()).toBe(2); // e.g. a scrape right after a request: it sees the request
    expect(calls).toHaveLength(2);
  });

  it(`the next render starts no sooner than ${RENDER_SPACING} times the last one's duration after it`, async () => {
    const { calls, render } = slowRender(30);
    const shared = sharedRender(render);
    await shared();
    const first = calls[0];
    const [a, b] = await Promise.all([shared(), sleep(50).then(() => shared())]); // the second arrives in the pause
    expect([a, b]).toEqual([2, 2]);
    expect(calls[1].start - first.end).toBeGreaterThanOrEqual(RENDER_SPACING * (first.end - first.start) - SLACK_MS);
  });

  it(`the pause is at most ${MAX_RENDER_PAUSE_MS} ms, however long the render`, async () => {
    const { calls, render } = slowRender(150); // 9 × 150 ms would be 1.35 s
    const shared = sharedRender(render);
    await shared();
    await shared();
    expect(calls[1].start - calls[0].end).toBeGreaterThanOrEqual(MAX_RENDER_PAUSE_MS - SLACK_MS);
    expect(calls[1].start - calls[0].end).toBeLessThan(RENDER_SPACING * 150);
  });

  it('a failed render fails every caller sharing it, and the next call tries again', async () => {
    let n = 0;
    const shared = sharedRender(async () => {
      if (++n === 1) throw new Error('boom');
      return n;
    });
    const results = await Promise.allSettled([shared(), shared()]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await shared()).toBe(2);
  });
});

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** The metrics app on a real socket; `arrived` counts the requests the server has received. */
async function serve(exposition: () => Promise<string | readonly string[]>) {
  const app = createMetricsApp({ exposition, contentType: 'text/plain; version=0.0.4', ready: async () => true });
  const server = createAdaptorServer({ fetch: app.fetch, overrideGlobalObjects: false }) as Server;
  servers.push(server);
  const arrived = { n: 0 };
  server.on('request', () => arrived.n++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, arrived };
}

describe('/metrics', () => {
  it('4 concurrent scrapes over HTTP: one rendering, the same text to each', async () => {
    let renders = 0;
    let arrived = { n: 0 };
    const { url, ...rest } = await serve(async () => {
      renders++;
      while (arrived.n < 4) await sleep(1); // holds the render until all four are in
      await sleep(10);
      return ['# TYPE x counter\n', 'x 1\n'];
    });
    arrived = rest.arrived;
    const bodies = await Promise.all(Array.from({ length: 4 }, () => fetch(`${url}/metrics`).then((r) => r.text())));
    expect(bodies).toEqual(Array(4).fill('# TYPE x counter\nx 1\n'));
    expect(renders).toBe(1);
  });

  it('a body of megabytes arrives whole, with its length, and no character split between pieces', async () => {
    // '🙂' is two UTF-16 code units: after 'abc', each 64 Ki boundary at which the text is encoded would fall
    // between them. The pieces themselves are whole lines, as the renderer makes them.
    const text = `abc${'🙂é\n'.repeat(300_000)}`;
    const { url } = await serve(async () => [text.slice(0, 100_003), text.slice(100_003)]);
    const res = await fetch(`${url}/metrics`);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4');
    const body = await res.text();
    expect(body === text).toBe(true); // (not toBe: a diff of megabytes)
    expect(Number(res.headers.get('content-length'))).toBe(Buffer.byteLength(text));
    const whole = await serve(async () => text); // a single string too (the cluster primary's aggregate)
    expect((await (await fetch(`${whole.url}/metrics`)).text()) === text).toBe(true);
  });
});
