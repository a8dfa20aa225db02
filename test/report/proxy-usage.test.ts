/**
 * The report against the real thing: tokentap in front of the simulator writes its access log while the
 * official openai SDK sends requests (streaming and not, with cached and reasoning tokens, some failing);
 * `tokentap usage` on that log must count what /metrics counted.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startStack, type Stack } from '../helpers/stack.js';
import { metricSum } from '../helpers/prom.js';
import { CLI } from '../cli/spawn.js';
import { checkRows, expectedGroups } from './expected.js';

let stack: Stack;
let metrics: string;
const MODELS = ['model-a', 'model-b'];
let sent = 0;

const usage = (args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, 'usage', ...args, '--format', 'json'], { encoding: 'utf8', env: { PATH: process.env.PATH }, timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { rows: Record<string, unknown>[]; total: Record<string, number>; lines: Record<string, number> };
};

beforeAll(async () => {
  // Attribution and prices on: users from a header (two users, and a third request set with none), prices for
  // model-a only, so the report's users and cost can be held against /metrics too.
  stack = await startStack(
    { ttftMs: 5, itlMs: 1 },
    { user_from: ['header:x-team'], prices: { 'model-a': { input: 0.5, cached_input: 0.25, output: 2, reasoning: 3 } } },
  );
  const jobs: Promise<unknown>[] = [];
  for (let i = 0; i < 24; i++) {
    const model = MODELS[i % 2];
    const team = ['red', 'blue', ''][i % 3];
    const headers = { 'x-sim-cached-tokens': String(i % 5), 'x-sim-reasoning-tokens': String(i % 3), 'x-sim-output-tokens': String(5 + i), ...(team ? { 'x-team': team } : {}) };
    const messages = [{ role: 'user' as const, content: `question ${i} `.repeat(1 + (i % 4)) }];
    if (i % 3 === 0) {
      jobs.push(stack.openai.chat.completions.create({ model, messages }, { headers }));
    } else if (i % 8 === 7) {
      // A failing request: an error outcome, in both /metrics and the log.
      jobs.push(stack.openai.chat.completions.create({ model, messages }, { headers: { 'x-sim-fault': 'http-500' } }).catch(() => undefined));
    } else {
      jobs.push(
        (async () => {
          const s = await stack.openai.chat.completions.create({ model, messages, stream: true, stream_options: { include_usage: true } }, { headers });
          for await (const _ of s);
        })(),
      );
    }
    if (i % 4 === 1) jobs.push(stack.openai.completions.create({ model, prompt: `p${i}`, max_tokens: 4 }));
  }
  sent = jobs.length;
  await Promise.all(jobs);
  await eventually(() => stack.logLines().length === sent, 10_000);
  metrics = await stack.metrics();
});

afterAll(() => stack?.close());

describe('tokentap usage on the proxy’s own access log', () => {
  it('requests, errors and every token type equal /metrics, per model and in total', () => {
    const doc = usage([stack.logFile, '--by', 'model']);
    expect(doc.lines).toMatchObject({ read: sent, entries: sent, not_json: 0, not_tokentap: 0 });
    expect(doc.total.requests).toBe(sent);
    expect(doc.total.requests).toBe(metricSum(metrics, 'tokentap_requests_total'));
    for (const model of MODELS) {
      const row = doc.rows.find((r) => r.model === model)!;
      const m = { model };
      const requests = metricSum(metrics, 'tokentap_requests_total', m);
      expect(row.requests).toBe(requests);
      expect(row.errors).toBe(requests - metricSum(metrics, 'tokentap_requests_total', { ...m, outcome: 'ok' }));
      expect(row.prompt_tokens).toBe(metricSum(metrics, 'tokentap_tokens_total', { ...m, type: 'prompt' }));
      expect(row.completion_tokens).toBe(metricSum(metrics, 'tokentap_tokens_total', { ...m, type: 'completion' }));
      expect(row.cached_tokens).toBe(metricSum(metrics, 'tokentap_tokens_total', { ...m, type: 'cached_prompt' }));
      expect(row.reasoning_tokens).toBe(metricSum(metrics, 'tokentap_tokens_total', { ...m, type: 'reasoning' }));
    }
    expect(doc.total.errors).toBeGreaterThan(0);
    expect(doc.total.cached_tokens).toBeGreaterThan(0);
    expect(doc.total.reasoning_tokens).toBeGreaterThan(0);
  });

  it('per endpoint as /metrics; latencies within 1% of the log’s exact percentiles', () => {
    const doc = usage([stack.logFile, '--by', 'endpoint']);
    for (const r of doc.rows) expect(r.requests).toBe(metricSum(metrics, 'tokentap_requests_total', { endpoint: r.endpoint as string }));
    const log = stack.logLines();
    expect(checkRows(doc.rows, expectedGroups(log, ['endpoint']), ['endpoint'])).toEqual([]);
    expect(doc.rows.find((r) => r.endpoint === 'chat_completions')!.ttft_p50_ms).toBeGreaterThan(0);
  });

  it('per user, requests, tokens and cost equal the per-user metrics; the total cost equals tokentap_cost_total', () => {
    const doc = usage([stack.logFile, '--by', 'user']);
    const userMetric = (u: string) => metricSum(metrics, 'tokentap_user_requests_total', { user: u });
    for (const team of ['red', 'blue']) {
      const row = doc.rows.find((r) => r.user === team)!;
      expect(row.requests).toBe(userMetric(team));
      expect(row.completion_tokens).toBe(metricSum(metrics, 'tokentap_user_tokens_total', { user: team, type: 'completion' }));
      expect(row.cost as number).toBeCloseTo(metricSum(metrics, 'tokentap_user_cost_total', { user: team }), 9);
    }
    // the log's null user is the metrics' `unknown`
    expect(doc.rows.find((r) => r.user === null)!.requests).toBe(userMetric('unknown'));
    expect(userMetric('red') + userMetric('blue') + userMetric('unknown')).toBe(sent);
    expect(doc.total.cost).toBeGreaterThan(0);
    expect(doc.total.cost).toBeCloseTo(metricSum(metrics, 'tokentap_cost_total'), 9);
    expect(metricSum(metrics, 'tokentap_cost_unpriced_requests_total', { model: 'model-b' })).toBeGreaterThan(0);
  });
});
