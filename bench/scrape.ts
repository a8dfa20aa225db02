/**
 * `npm run bench:scrape`: how long /metrics takes with 100 models × 5 endpoints × every series, and how long
 * building the exposition keeps the event loop busy. Runs dist/ (build first).
 */
import { Agent, request } from 'undici';
import { startTokentap } from '../dist/server.js';
import { startSimulator } from '../dist/sim/server.js';

const MODELS = 100;
const sim = await startSimulator({ port: 0, ttftMs: 1, itlMs: 1, outputTokens: 8 });
const tap = await startTokentap({ upstream: sim.url, host: '127.0.0.1', port: 0, metrics_host: '127.0.0.1', metrics_port: 0, access_log: 'off' });
const agent = new Agent({ connections: 64 });
const bodies: [string, (m: string) => object][] = [
  ['/v1/chat/completions', (m) => ({ model: m, stream: true, messages: [{ role: 'user', content: 'a b' }] })],
  ['/v1/chat/completions', (m) => ({ model: m, messages: [{ role: 'user', content: 'a' }] })],
  ['/v1/completions', (m) => ({ model: m, stream: true, prompt: 'a' })],
  ['/v1/embeddings', (m) => ({ model: m, input: 'a' })],
  ['/v1/responses', (m) => ({ model: m, stream: true, input: 'a' })],
];
const jobs: [string, object][] = [];
for (let i = 0; i < MODELS; i++) for (const [path, body] of bodies) jobs.push([path, body(`model-${i}`)]);
for (let k = 0; k < jobs.length; k += 50) {
  await Promise.all(
    jobs.slice(k, k + 50).map(async ([path, body]) => {
      const res = await request(tap.proxyUrl + path, {
        method: 'POST',
        body: JSON.stringify(body),
        dispatcher: agent,
        headers: { 'content-type': 'application/json', 'x-sim-reasoning-tokens': '2', 'x-sim-cached-tokens': '1' },
      });
      await res.body.text();
    }),
  );
}
const p50 = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const answer: number[] = [];
let text = '';
for (let i = 0; i < 20; i++) {
  const t = performance.now();
  text = await (await fetch(`${tap.metricsUrl}/metrics`)).text();
  answer.push(performance.now() - t);
}
const busy: number[] = [];
for (let i = 0; i < 10; i++) {
  const t = performance.now();
  await tap.metrics.exposition();
  busy.push(performance.now() - t);
}
const series = text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
console.log(
  `scrape: ${MODELS} models x ${bodies.length} request kinds: ${series} series, ${(text.length / 1048576).toFixed(1)} MB; ` +
    `answer p50 ${p50(answer).toFixed(1)} ms, max ${Math.max(...answer).toFixed(1)} ms; exposition built in ${p50(busy).toFixed(1)} ms (event loop busy)`,
);
await tap.close();
await sim.close();
await agent.close();
