/**
 * GET /metrics: vLLM v0.11.0's metric names, labels and buckets, driven by the
 * simulator's own schedule (max-num-seqs queueing, KV usage, token counters).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseSimArgs } from '../../src/sim/cli.js';
import { MAX_MODEL_NAME_CHARS, MAX_MODEL_NAMES } from '../../src/sim/vllm-metrics.js';
import { TTFT_BUCKETS, oneTwoFiveBuckets } from '../../src/config/buckets.js';
import { CHAT_PATH, postJson, postSse, sleep, waitFor, withSim } from './helpers.js';

const MODEL = 'sim/metrics-model';
const BASE = `model_name="${MODEL}",engine="0"`;

async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

/** The value of the series `name{labels}` (labels exactly as exposed, in order), or undefined. */
function value(text: string, name: string, labels = BASE): number | undefined {
  const prefix = `${name}{${labels}} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}

function bucketBounds(text: string, name: string): number[] {
  const re = new RegExp(`^${name}_bucket\\{le="([^"]+)",${BASE}\\} `);
  return text
    .split('\n')
    .map((l) => re.exec(l)?.[1])
    .filter((le): le is string => le !== undefined && le !== '+Inf')
    .map(Number);
}

/**
 * `promtool check metrics` on the exposition. vLLM's names carry the `vllm:` prefix, which promtool's linter
 * flags on a real vLLM too ("metric names should not contain ':'", exit 3); that one rule is allowed, anything
 * else (a parse error exits 1, any other lint problem) fails. Returns the problems that are not that rule.
 */
function promtoolProblems(text: string): string[] {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error('promtool not found: install it (Debian/Ubuntu package "prometheus") to run this test');
  }
  const lines = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() !== '');
  const problems = lines.filter((l) => !/^vllm:\w+ metric names should not contain ':'$/.test(l));
  if (r.status !== 0 && r.status !== 3) problems.push(`promtool exited ${r.status}`);
  if (r.status === 3 && lines.length === 0) problems.push('promtool exited 3 without naming a problem');
  return problems;
}

const chat = (words: number) => ({
  model: MODEL,
  messages: [{ role: 'user', content: Array.from({ length: words }, (_, i) => `w${i}`).join(' ') }],
  stream: true,
  stream_options: { include_usage: true },
});

describe('vLLM /metrics', () => {
  it('passes promtool check metrics (but for the vllm: colon lint real vLLM also trips), idle and after traffic', async () => {
    await withSim({ model: MODEL, ttftMs: 1, itlMs: 1 }, async (sim) => {
      expect(promtoolProblems(await scrape(sim.url))).toEqual([]);
      await postSse(`${sim.url}${CHAT_PATH}`, chat(3), { 'x-sim-output-tokens': '4', 'x-sim-cached-tokens': '2' });
      await postJson(`${sim.url}/v1/completions`, { model: MODEL, prompt: 'a b', max_tokens: 3 });
      expect(promtoolProblems(await scrape(sim.url))).toEqual([]);
      // The checker does catch a broken exposition.
      expect(promtoolProblems('vllm:x 1 2 3 junk\n').length).toBeGreaterThan(0);
    });
  });

  it("uses v0.11.0's names, labels and buckets, and every series exists from the start", async () => {
    await withSim({ model: MODEL, maxModelLen: 4096 }, async (sim) => {
      const text = await scrape(sim.url);
      for (const g of ['vllm:num_requests_running', 'vllm:num_requests_waiting', 'vllm:kv_cache_usage_perc']) {
        expect(text).toContain(`# TYPE ${g} gauge`);
        expect(value(text, g)).toBe(0);
      }
      for (const c of ['prompt_tokens', 'generation_tokens', 'prefix_cache_queries', 'prefix_cache_hits', 'num_preemptions']) {
        expect(text).toContain(`# TYPE vllm:${c}_total counter`);
        expect(value(text, `vllm:${c}_total`)).toBe(0);
      }
      for (const reason of ['stop', 'length', 'abort']) {
        expect(value(text, 'vllm:request_success_total', `${BASE},finished_reason="${reason}"`)).toBe(0);
      }
      expect(bucketBounds(text, 'vllm:time_to_first_token_seconds')).toEqual(TTFT_BUCKETS);
      expect(bucketBounds(text, 'vllm:inter_token_latency_seconds')).toEqual(bucketBounds(text, 'vllm:time_per_output_token_seconds'));
      expect(bucketBounds(text, 'vllm:e2e_request_latency_seconds').at(-1)).toBe(7680);
      expect(bucketBounds(text, 'vllm:request_prompt_tokens')).toEqual([1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000]);
      expect(oneTwoFiveBuckets(100)).toEqual([1, 2, 5, 10, 20, 50, 100]);
      // Hidden by default in v0.11.0 (--show-hidden-metrics-for-version=0.10 brings them back).
      expect(text).not.toContain('vllm:gpu_cache_usage_perc');
      expect(text).not.toContain('vllm:gpu_prefix_cache');
    });
  });

  it('max-num-seqs 2 with 5 slow streams: 2 running, 3 waiting, queue time observed, counters equal the usage', async () => {
    await withSim({ model: MODEL, maxNumSeqs: 2, ttftMs: 20, itlMs: 25, kvCacheTokens: 1000 }, async (sim) => {
      const url = `${sim.url}${CHAT_PATH}`;
      const streams = [3, 5, 7, 9, 11].map((words, i) =>
        postSse(url, chat(words), { 'x-sim-output-tokens': String(6 + i), 'x-sim-cached-tokens': String(i) }),
      );
      await waitFor(() => sim.scheduler.running === 2 && sim.scheduler.waiting === 3);
      await sleep(40); // past the first token of the running two: their generated tokens hold KV too
      const mid = await scrape(sim.url);
      expect(value(mid, 'vllm:num_requests_running')).toBe(2);
      expect(value(mid, 'vllm:num_requests_waiting')).toBe(3);
      expect(value(mid, 'vllm:kv_cache_usage_perc')).toBeGreaterThan(0);
      expect(value(mid, 'vllm:kv_cache_usage_perc')).toBeLessThanOrEqual(1);

      const done = await Promise.all(streams);
      const usages = done.map((s) => s.events.find((e) => e.json?.usage)?.json.usage);
      const promptSum = usages.reduce((a, u) => a + u.prompt_tokens, 0);
      const genSum = usages.reduce((a, u) => a + u.completion_tokens, 0);
      const cachedSum = usages.reduce((a, u) => a + (u.prompt_tokens_details?.cached_tokens ?? 0), 0);
      expect(genSum).toBe(6 + 7 + 8 + 9 + 10);

      await waitFor(() => sim.stats.active === 0);
      const end = await scrape(sim.url);
      expect(value(end, 'vllm:num_requests_running')).toBe(0);
      expect(value(end, 'vllm:num_requests_waiting')).toBe(0);
      expect(value(end, 'vllm:kv_cache_usage_perc')).toBe(0);
      expect(value(end, 'vllm:prompt_tokens_total')).toBe(promptSum);
      expect(value(end, 'vllm:generation_tokens_total')).toBe(genSum);
      expect(value(end, 'vllm:prefix_cache_queries_total')).toBe(promptSum);
      expect(value(end, 'vllm:prefix_cache_hits_total')).toBe(cachedSum);
      expect(value(end, 'vllm:request_success_total', `${BASE},finished_reason="stop"`)).toBe(5);
      expect(value(end, 'vllm:time_to_first_token_seconds_count')).toBe(5);
      expect(value(end, 'vllm:e2e_request_latency_seconds_count')).toBe(5);
      expect(value(end, 'vllm:request_generation_tokens_sum')).toBe(genSum);
      expect(value(end, 'vllm:request_prompt_tokens_sum')).toBe(promptSum);
      // One ITL observation per token step after the first.
      expect(value(end, 'vllm:inter_token_latency_seconds_count')).toBe(genSum - 5);
      expect(value(end, 'vllm:time_per_output_token_seconds_count')).toBe(genSum - 5);
      // Three requests waited for a slot; a queued request's TTFT includes its wait.
      expect(value(end, 'vllm:request_queue_time_seconds_count')).toBe(5);
      const queueSum = value(end, 'vllm:request_queue_time_seconds_sum')!;
      expect(queueSum).toBeGreaterThan(0.3);
      const ttftSum = value(end, 'vllm:time_to_first_token_seconds_sum')!;
      expect(ttftSum).toBeGreaterThanOrEqual(queueSum + 5 * 0.02 - 0.005);
      // Prefill = ttft from the scheduled time; it excludes the wait.
      expect(value(end, 'vllm:request_prefill_time_seconds_sum')!).toBeLessThan(ttftSum - queueSum + 0.05);
      const last = done.at(-1)!;
      const firstToken = last.events.find((e) => e.json?.choices?.[0]?.delta?.content)!;
      expect(firstToken.at - last.start).toBeGreaterThan(2 * (20 + 5 * 25));
    });
  });

  it('a client that leaves while waiting leaves the queue; its slot-holder still finishes', async () => {
    await withSim({ model: MODEL, maxNumSeqs: 1, ttftMs: 5, itlMs: 20 }, async (sim) => {
      const url = `${sim.url}${CHAT_PATH}`;
      const first = postSse(url, chat(2), { 'x-sim-output-tokens': '8' });
      await waitFor(() => sim.scheduler.running === 1);
      const ac = new AbortController();
      const second = fetch(url, { method: 'POST', body: JSON.stringify(chat(2)), headers: { 'content-type': 'application/json' }, signal: ac.signal })
        .then((r) => r.text())
        .catch(() => 'aborted');
      await waitFor(() => sim.scheduler.waiting === 1);
      ac.abort();
      await second;
      await waitFor(() => sim.scheduler.waiting === 0);
      expect(sim.scheduler.running).toBe(1);
      await first;
      await waitFor(() => sim.stats.active === 0);
      const end = await scrape(sim.url);
      expect(value(end, 'vllm:time_to_first_token_seconds_count')).toBe(1);
      expect(value(end, 'vllm:request_success_total', `${BASE},finished_reason="stop"`)).toBe(1);
      expect(value(end, 'vllm:num_requests_running')).toBe(0);
    });
  });

  it('non-streaming requests count too; length finishes are labelled length', async () => {
    await withSim({ model: MODEL, ttftMs: 1, itlMs: 1 }, async (sim) => {
      const r = await postJson(`${sim.url}/v1/completions`, { model: MODEL, prompt: 'one two three', max_tokens: 4 });
      expect(r.json.choices[0].finish_reason).toBe('length');
      const text = await scrape(sim.url);
      expect(value(text, 'vllm:request_success_total', `${BASE},finished_reason="length"`)).toBe(1);
      expect(value(text, 'vllm:prompt_tokens_total')).toBe(r.json.usage.prompt_tokens);
      expect(value(text, 'vllm:generation_tokens_total')).toBe(r.json.usage.completion_tokens);
    });
  });

  it('a request naming another model is counted under that model_name (tokentap\'s model label lines up)', async () => {
    await withSim({ model: MODEL, ttftMs: 1, itlMs: 1 }, async (sim) => {
      const r = await postJson(`${sim.url}/v1/completions`, { model: 'demo-chat', prompt: 'one two three', max_tokens: 4 });
      const text = await scrape(sim.url);
      const other = 'model_name="demo-chat",engine="0"';
      expect(value(text, 'vllm:prompt_tokens_total', other)).toBe(r.json.usage.prompt_tokens);
      expect(value(text, 'vllm:generation_tokens_total', other)).toBe(r.json.usage.completion_tokens);
      expect(value(text, 'vllm:time_to_first_token_seconds_count', other)).toBe(1);
      expect(value(text, 'vllm:prompt_tokens_total')).toBe(0); // the served model's series stay at 0
    });
  });

  it('model names past MAX_MODEL_NAMES, or longer than MAX_MODEL_NAME_CHARS, are counted under the served name (bounded series)', async () => {
    await withSim({ model: MODEL, ttftMs: 0, itlMs: 0 }, async (sim) => {
      const sent = MAX_MODEL_NAMES + 25; // distinct names, in batches of 25
      for (let i = 0; i < sent; i += 25) {
        await Promise.all(Array.from({ length: 25 }, (_, j) => postJson(`${sim.url}/v1/completions`, { model: `m-${i + j}`, prompt: 'a', max_tokens: 1 })));
      }
      await postJson(`${sim.url}/v1/completions`, { model: 'x'.repeat(MAX_MODEL_NAME_CHARS + 1), prompt: 'a', max_tokens: 1 });
      const text = await scrape(sim.url);
      const names = new Set([...text.matchAll(/model_name="([^"]*)"/g)].map((m) => m[1]));
      expect(names.size).toBe(MAX_MODEL_NAMES); // the served name and the first 99 requested
      expect(names.has(MODEL)).toBe(true);
      // what did not get series of its own is counted under the served name: nothing is lost
      const ownSeries = MAX_MODEL_NAMES - 1;
      expect(value(text, 'vllm:request_success_total', `model_name="${MODEL}",engine="0",finished_reason="length"`)).toBe(sent - ownSeries + 1);
    });
  });

  it('--max-num-seqs and --kv-cache-tokens', () => {
    const o = parseSimArgs(['--max-num-seqs', '2', '--kv-cache-tokens', '4096']);
    expect(o).toMatchObject({ maxNumSeqs: 2, kvCacheTokens: 4096 });
  });
});
