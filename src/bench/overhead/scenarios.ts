/**
 * The overhead scenarios and their interleaved runs. Each round runs every target once, in an
 * order rotated per round, so drift on the machine spreads evenly over direct/tokentap/nginx.
 */
import { summarize, type Summary } from '../stats.js';
import type { Job, JobResult } from './loadgen.js';
import { treeCpuNs, treeRssBytes } from './procstat.js';
import type { SimConfig } from './procs.js';

export type ScenarioName = 'steady' | 'burst' | 'idle-rss' | 'nonstream';
export const SCENARIOS: readonly ScenarioName[] = ['steady', 'burst', 'idle-rss', 'nonstream'];

export interface Target {
  /** `trace@R`: tokentap with tracing on at sample ratio R (--tracing), exporting to a local sink. */
  name: 'direct' | 'tokentap' | 'floor' | 'nginx' | `trace@${number}`;
  url: string;
  /** Root pids of the proxy's process tree (none for direct). */
  pids: number[];
}

export interface Settings {
  rounds: number | undefined;
  streams: number;
  chunks: number;
  itlMs: number;
  ttftMs: number;
  burst: number;
  open: number;
  nonstreamConcurrency: number;
  nonstreamMs: number;
}

export interface Scenario {
  name: ScenarioName;
  sim: SimConfig;
  rounds: number;
  /** The job of one round against `url`. */
  job(url: string): Job;
  /** Unmeasured jobs before the rounds (JIT, connection pools): a light one, then usually one round. */
  warmup(url: string): Job[];
}

const body = (maxTokens: number, stream: boolean): string =>
  JSON.stringify({
    model: 'overhead',
    messages: [{ role: 'user', content: 'the quick brown fox jumps over the lazy dog again and again' }],
    max_tokens: maxTokens,
    stream,
    ...(stream ? { stream_options: { include_usage: true } } : {}),
  });

const chat = (url: string): string => `${url}/v1/chat/completions`;

export function scenario(name: ScenarioName, s: Settings): Scenario {
  const warm = (url: string, maxTokens = 16): Job => ({ kind: 'load', url: chat(url), body: body(maxTokens, true), stream: true, concurrency: 32, requests: 128, fresh: false });
  let sc: Scenario;
  switch (name) {
    case 'steady':
      sc = {
        name,
        sim: { ttftMs: s.ttftMs, itlMs: s.itlMs, outputTokens: s.chunks },
        rounds: s.rounds ?? 5,
        // Staggered starts over one stream's lifetime, so the streams overlap evenly (steady
        // state), not in waves of `streams` at once; three streams per slot per round.
        job: (url) => ({
          kind: 'load', url: chat(url), body: body(s.chunks, true), stream: true, concurrency: s.streams,
          requests: s.streams * 3, rampMs: s.ttftMs + s.chunks * s.itlMs, fresh: false,
        }),
        warmup: (url) => [warm(url), sc.job(url)],
      };
      return sc;
    case 'burst':
      sc = {
        name,
        sim: { ttftMs: s.ttftMs, itlMs: s.itlMs, outputTokens: 16 },
        rounds: s.rounds ?? 5,
        job: (url) => ({ kind: 'load', url: chat(url), body: body(16, true), stream: true, concurrency: s.burst, requests: s.burst, fresh: true }),
        warmup: (url) => [warm(url), sc.job(url)],
      };
      return sc;
    case 'idle-rss':
      return {
        name,
        sim: { ttftMs: 10, itlMs: 2000, outputTokens: 30_000 },
        rounds: s.rounds ?? 1,
        warmup: (url) => [warm(url, 1)], // one token: no 2 s gaps
        job: (url) => ({ kind: 'hold', url: chat(url), body: body(30_000, true), n: s.open, timeoutMs: 60_000 }),
      };
    case 'nonstream':
      return {
        name,
        sim: { ttftMs: 0, itlMs: 0, outputTokens: 16 },
        rounds: s.rounds ?? 3,
        warmup: (url) => [warm(url), { kind: 'load', url: chat(url), body: body(16, false), stream: false, concurrency: s.nonstreamConcurrency, durationMs: 1000, fresh: false }],
        job: (url) => ({ kind: 'load', url: chat(url), body: body(16, false), stream: false, concurrency: s.nonstreamConcurrency, durationMs: s.nonstreamMs, fresh: false }),
      };
  }
}

export interface Measurement {
  result: JobResult;
  cpuNs: number | null;
  rssBeforeBytes: number | null;
  /** Peak (sampled every 100 ms) during the job, or at the hold for idle-rss. */
  rssPeakBytes: number | null;
}

export type RunJob = (job: Job, onHolding?: () => void) => Promise<JobResult>;

export async function measure(target: Target, job: Job, run: RunJob): Promise<Measurement> {
  const proxy = target.pids.length > 0;
  const rssBefore = proxy ? treeRssBytes(target.pids) : null;
  let peak = rssBefore ?? 0;
  const sampler = proxy ? setInterval(() => (peak = Math.max(peak, treeRssBytes(target.pids))), 100) : null;
  const cpu0 = proxy ? treeCpuNs(target.pids) : 0;
  let atHold: number | null = null;
  const result = await run(job, () => {
    if (proxy) atHold = treeRssBytes(target.pids);
  });
  const cpu1 = proxy ? treeCpuNs(target.pids) : 0;
  if (sampler) clearInterval(sampler);
  return {
    result,
    cpuNs: proxy ? cpu1 - cpu0 : null,
    rssBeforeBytes: rssBefore,
    rssPeakBytes: proxy ? (atHold ?? Math.max(peak, treeRssBytes(target.pids))) : null,
  };
}

export interface TargetFigures {
  target: string;
  rounds: number;
  requests: number;
  ok: number;
  errors: Record<string, number>;
  ttftMs: Summary;
  e2eMs: Summary;
  /** SSE events received per second of wall time (all rounds). */
  chunksPerS: number;
  requestsPerS: number;
  /** Proxy CPU per SSE event received by the client (µs), streaming scenarios. */
  cpuUsPerChunk: number | null;
  /** Proxy CPU per request (µs). */
  cpuUsPerRequest: number | null;
  /** Proxy CPU over wall time, in cores. */
  cpuCores: number | null;
  rssIdleMB: number | null;
  rssPeakMB: number | null;
  /** idle-rss: streams open at the hold. */
  opened: number | null;
  /** idle-rss: (RSS at hold − RSS before) / open streams, KB. */
  kbPerOpenStream: number | null;
  /** Per round: wall s, TTFT p50/p99 ms, proxy CPU µs per chunk — to see drift and outliers. */
  perRound: { s: number; ttftP50: number | null; ttftP99: number | null; cpuUsPerChunk: number | null }[];
}

const MB = 1024 * 1024;

export function aggregate(target: Target, ms: readonly Measurement[]): TargetFigures {
  const sum = (f: (m: Measurement) => number): number => ms.reduce((a, m) => a + f(m), 0);
  const elapsedS = sum((m) => m.result.elapsedMs) / 1000;
  const events = sum((m) => m.result.sseEvents);
  const requests = sum((m) => m.result.requests);
  const ok = sum((m) => m.result.ok);
  const cpu = ms.every((m) => m.cpuNs !== null) && ms.length > 0 ? sum((m) => m.cpuNs ?? 0) : null;
  const errors: Record<string, number> = {};
  for (const m of ms) for (const [k, v] of Object.entries(m.result.errors)) errors[k] = (errors[k] ?? 0) + v;
  const last = ms[ms.length - 1];
  const opened = last?.result.opened ?? null;
  const rssIdle = ms[0]?.rssBeforeBytes ?? null;
  const rssPeak = ms.some((m) => m.rssPeakBytes !== null) ? Math.max(...ms.map((m) => m.rssPeakBytes ?? 0)) : null;
  return {
    target: target.name,
    rounds: ms.length,
    requests,
    ok,
    errors,
    ttftMs: summarize(ms.flatMap((m) => m.result.ttftMs)),
    e2eMs: summarize(ms.flatMap((m) => m.result.e2eMs)),
    chunksPerS: elapsedS > 0 ? events / elapsedS : 0,
    requestsPerS: elapsedS > 0 ? ok / elapsedS : 0,
    cpuUsPerChunk: cpu !== null && events > 0 ? cpu / 1000 / events : null,
    cpuUsPerRequest: cpu !== null && requests > 0 ? cpu / 1000 / requests : null,
    cpuCores: cpu !== null && elapsedS > 0 ? cpu / 1e9 / elapsedS : null,
    rssIdleMB: rssIdle !== null ? rssIdle / MB : null,
    rssPeakMB: rssPeak !== null ? rssPeak / MB : null,
    opened,
    kbPerOpenStream:
      opened && last.rssBeforeBytes !== null && last.rssPeakBytes !== null ? (last.rssPeakBytes - last.rssBeforeBytes) / 1024 / opened : null,
    perRound: ms.map((m) => {
      const t = summarize(m.result.ttftMs);
      const r2 = (x: number | null): number | null => (x === null ? null : Math.round(x * 100) / 100);
      return {
        s: r2(m.result.elapsedMs / 1000) ?? 0,
        ttftP50: r2(t.p50),
        ttftP99: r2(t.p99),
        cpuUsPerChunk: m.cpuNs !== null && m.result.sseEvents > 0 ? r2(m.cpuNs / 1000 / m.result.sseEvents) : null,
      };
    }),
  };
}
