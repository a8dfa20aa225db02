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
  stack = await startStack({ ttftMs: 5, itlMs: 1 });
  const jobs: Promise<unknown>[] = [];
  for (let i = 0; i < 24; i++) {
    const model = MODELS[i % 2];
    const headers = { 'x-sim-cached-tokens': String(i % 5), 'x-sim-reasoning-tokens': String(i % 3), 'x-sim-output-tokens': String(5 + i) };
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
});
