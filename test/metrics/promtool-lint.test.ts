/**
 * tokentap's /metrics passes `promtool check metrics`, the exposition lint Prometheus ships (names, suffixes,
 * HELP/TYPE). A real tokentap before the simulator serves requests of every kind first, so each metric family
 * has series and the lint sees them all. A missing promtool skips the test with a line naming the Debian
 * package to install (prometheus); under CI=true it fails instead.
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary, skipWithout } from '../deploy/helpers.js';
import { metricSum, parseExposition } from '../helpers/prom.js';
import { eventually, startStack, type Stack } from '../helpers/stack.js';

const skip = skipWithout('promtool');

let stack: Stack; // unset when skipped
beforeAll(async () => {
  if (skip) return;
  // a short request_timeout: an idle connection gives tokentap_connections_closed_total a series
  // attribution and a price table on: the user and cost families are linted too
  stack = await startStack(
    { ttftMs: 5, itlMs: 1, outputTokens: 3 },
    { request_timeout: '500ms', user_from: ['header:x-team'], prices: { lint: { input: 1, cached_input: 0.5, output: 2 } } },
  );
});
afterAll(() => stack?.close());

const messages = [{ role: 'user', content: 'lint me' }];

async function post(path: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<void> {
  const res = await fetch(`${stack.tap.proxyUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer().catch(() => undefined); // the `die` fault ends the body with an error
}

/** A connection that never sends a byte, until tokentap closes it. */
async function idleConnection(): Promise<void> {
  const sock = connect(Number(new URL(stack.tap.proxyUrl).port), '127.0.0.1');
  sock.resume();
  await once(sock, 'close');
}

/** Short-lived garbage until prom-client has seen a garbage collection (its gc histogram is empty before). */
async function someGc(): Promise<void> {
  await eventually(async () => {
    let keep: number[][] = [];
    for (let i = 0; i < 200_000; i++) keep = i % 1000 === 0 ? [] : (keep.push([i, i]), keep);
    return metricSum(await stack.metrics(), 'tokentap_nodejs_gc_duration_seconds_count') > 0;
  }, 10_000);
}

describe.skipIf(skip)('promtool check metrics', () => {
  it('the exposition after streaming, non-streaming, reasoning, cached, estimated and failed requests is lint-clean', async () => {
    const promtool = requireBinary('promtool'); // under CI=true: throws naming the Debian package `prometheus`
    const requests: Array<[string, Record<string, unknown>, Record<string, string>?]> = [
      ['/v1/chat/completions', { model: 'lint', messages }],
      ['/v1/chat/completions', { model: 'lint', messages, stream: true }, { 'x-sim-reasoning-tokens': '2', 'x-sim-cached-tokens': '1' }],
      ['/v1/chat/completions', { model: 'lint', messages, stream: true }, { 'x-sim-tool-call': '1' }],
      ['/v1/completions', { model: 'lint', prompt: 'p', stream: true }],
      ['/v1/embeddings', { model: 'lint', input: 'e' }],
      // no usage reported (the stream dies): an estimated request, outcome stream_error
      ['/v1/chat/completions', { model: 'lint', messages, stream: true }, { 'x-sim-fault': 'die', 'x-sim-fault-after': '2' }],
      ['/v1/chat/completions', { model: 'lint', messages }, { 'x-sim-fault': 'http-500' }],
      ['/v1/chat/completions', { model: 'lint', messages }, { 'x-team': 'lint "team"\\' }],
      ['/v1/chat/completions', { model: 'no-price', messages }],
    ];
    for (const [path, body, headers] of requests) await post(path, body, headers);
    await idleConnection();
    await someGc();
    await eventually(async () => metricSum(await stack.metrics(), 'tokentap_requests_total') === requests.length);
    const text = await stack.metrics();

    // Every family the exposition declares has at least one sample, so the lint below covers them all;
    // except libuv requests in flight (file system, DNS), which there usually are none of between requests.
    const mayBeEmpty = new Set(['tokentap_nodejs_active_requests']);
    const samples = parseExposition(text).map((s) => s.name);
    const families = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gmu)].map((m) => m[1]!);
    expect(families.length).toBeGreaterThan(20);
    const empty = families.filter((f) => !mayBeEmpty.has(f) && !samples.some((s) => s === f || s.startsWith(`${f}_`)));
    expect(empty).toEqual([]);
    expect(metricSum(text, 'tokentap_usage_estimated_total', { model: 'lint' })).toBe(1);
    expect(metricSum(text, 'tokentap_tokens_total', { model: 'lint', type: 'reasoning' })).toBe(2);

    const lint = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
    expect({ status: lint.status, output: `${lint.stdout}${lint.stderr}`.trim() }).toEqual({ status: 0, output: '' });
  });
});
