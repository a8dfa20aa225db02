/** `tokentap bench …`: parse flags, run, print the report, write --json/--html, set the exit code. */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseDistribution } from './distributions.js';
import { parseDuration } from './load.js';
import { Progress } from './progress.js';
import { renderHtml } from './report-html.js';
import { renderReport } from './report-table.js';
import { runBench, type BenchOptions } from './run.js';
import { endpointUrl } from './client.js';
import { describeError } from './net-errors.js';
import { normalizeTarget } from './target.js';
import type { BenchEndpoint, RequestRecord } from './types.js';

/** `: <the most frequent error's message>` (it names the URL and the cause), with a hint for a 404. */
function firstError(records: readonly RequestRecord[], url: string): string {
  const byError = new Map<string, RequestRecord[]>();
  for (const r of records) if (!r.ok) byError.set(r.error ?? 'error', [...(byError.get(r.error ?? 'error') ?? []), r]);
  const top = [...byError.values()].sort((a, b) => b.length - a.length)[0];
  if (!top) return '';
  const r = top[0];
  const msg = r.error?.startsWith('HTTP ')
    ? `POST ${url} answered ${r.error}${r.errorMessage ? `: ${r.errorMessage.replace(/\s+/g, ' ').slice(0, 160)}` : ''}`
    : (r.errorMessage ?? r.error ?? '');
  const hint = r.status === 404 ? ' (is --target the API base? it usually ends in /v1)' : '';
  return `: ${msg}${hint}`;
}

export const BENCH_HELP = `Usage: tokentap bench --target URL [options]

Load generator for OpenAI-compatible servers. Its TTFT/TTFC/ITL/TPOT/E2E definitions equal
tokentap's; when the target is a tokentap it prints the proxy-side figures beside the client's.

Target
  --target URL            API base URL, e.g. http://127.0.0.1:8080/v1 (required); without a path, /v1
                          is appended; an endpoint URL (…/v1/chat/completions) is cut to its base
  --api-key KEY           bearer token (default: $OPENAI_API_KEY)
  --model NAME            model (default: the first of GET /models)
  --endpoint E            chat | completions | responses (default chat)
  --header 'K: V'         extra request header (repeatable)
  --extra-body JSON       merged into every request body, e.g. '{"ignore_eos":true}'
Load
  --concurrency N         closed loop with N workers (default 1); with --rate: max in flight
  --rate R                open loop, Poisson arrivals at R requests/s
  --requests M            stop after M requests (default 100 unless --duration)
  --duration D            stop launching after D (30s, 2m, 500ms)
  --ramp-up D             closed loop: stagger the workers' first requests over D
  --warmup W              W requests (or a duration, 10s) first, not recorded
  --timeout D             per-request timeout (default 300s)
Workload
  --prompt-tokens DIST    N | uniform:a:b | normal:mu:sigma (default 128)
  --max-tokens DIST       same syntax (default 128)
  --no-stream             non-streaming requests (streaming is the default)
  --seed N                RNG seed for prompts, lengths and arrivals (default 1)
Proxy side
  --metrics-url URL       tokentap's /metrics (default: looked for at the target's origin and port 9464
                          of its host, used only if 3 probe requests sent to the target show up in it)
  --metrics-token TOKEN   bearer token of a protected /metrics (default: $TOKENTAP_METRICS_TOKEN)
  --no-discover           do not look for tokentap's /metrics
  --proxy-log FILE        tokentap's access log (tokentap --log FILE): join per x-request-id, report
                          client − proxy and exact proxy-side TTFT/TTFC/TPOT/E2E (/metrics quantiles
                          are interpolated within buckets: approximate, shown with the bucket)
Output
  --json FILE             summary and every per-request record
  --html FILE             self-contained report with plots
  --max-error-rate X      exit 1 when errors/requests > X (0..1), for CI
  --quiet                 no live progress
  --run-id ID             request ids are bench-<ID>-<n> (default random)
  -h, --help
Exit status: 0 ok; 1 error rate above --max-error-rate or no request succeeded; 2 bad usage.`;

const OPTIONS = {
  target: { type: 'string' },
  'api-key': { type: 'string' },
  model: { type: 'string' },
  endpoint: { type: 'string' },
  header: { type: 'string', multiple: true },
  'extra-body': { type: 'string' },
  concurrency: { type: 'string' },
  rate: { type: 'string' },
  requests: { type: 'string' },
  duration: { type: 'string' },
  'ramp-up': { type: 'string' },
  warmup: { type: 'string' },
  timeout: { type: 'string' },
  'prompt-tokens': { type: 'string' },
  'max-tokens': { type: 'string' },
  'no-stream': { type: 'boolean' },
  seed: { type: 'string' },
  'metrics-url': { type: 'string' },
  'metrics-token': { type: 'string' },
  'no-discover': { type: 'boolean' },
  'proxy-log': { type: 'string' },
  json: { type: 'string' },
  html: { type: 'string' },
  'max-error-rate': { type: 'string' },
  quiet: { type: 'boolean' },
  'run-id': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

function positive(name: string, v: string | undefined, integer: boolean): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got "${v}"`);
  }
  return n;
}

async function firstModel(target: string, headers: Record<string, string>): Promise<string> {
  const url = `${target.replace(/\/+$/, '')}/models`;
  const fail = (why: string) => new UsageError(`--model not given, and GET ${url} (to find one) ${why}`);
  let body: { data?: { id?: string }[] };
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      const hint =
        res.status === 404 ? ': is --target the API base (it usually ends in /v1)?' : res.status === 401 || res.status === 403 ? ': give --api-key' : '';
      throw fail(`answered HTTP ${res.status}${hint}`);
    }
    body = (await res.json()) as typeof body;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw fail(e instanceof SyntaxError ? 'did not answer JSON' : `failed: ${describeError(e, 10_000)}`);
  }
  const id = body?.data?.[0]?.id;
  if (!id) throw fail('listed no model');
  return id;
}

/**
 * Builds BenchOptions from argv (without running). Throws UsageError on bad flags. What it changed (a --target
 * without /v1) is pushed to `notes`, for stderr.
 */
export async function optionsFromArgv(
  argv: string[],
  notes: string[] = [],
): Promise<BenchOptions & { json?: string; html?: string; maxErrorRate?: number; quiet: boolean }> {
  let v;
  try {
    v = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  if (!v.target) throw new UsageError('--target is required');
  let target;
  try {
    target = normalizeTarget(v.target);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (target.note) notes.push(target.note);
  const endpoint = (v.endpoint ?? target.endpoint ?? 'chat') as BenchEndpoint;
  if (!['chat', 'completions', 'responses'].includes(endpoint)) throw new UsageError('--endpoint must be chat, completions or responses');
  const headers: Record<string, string> = {};
  for (const h of v.header ?? []) {
    const i = h.indexOf(':');
    if (i <= 0) throw new UsageError(`--header must be 'Name: value', got "${h}"`);
    headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
  }
  let extraBody: Record<string, unknown> | undefined;
  if (v['extra-body'] !== undefined) {
    try {
      extraBody = JSON.parse(v['extra-body']) as Record<string, unknown>;
    } catch {
      throw new UsageError('--extra-body must be a JSON object');
    }
    if (extraBody === null || typeof extraBody !== 'object' || Array.isArray(extraBody)) throw new UsageError('--extra-body must be a JSON object');
  }
  const dur = (name: string, s: string | undefined): number | undefined => {
    if (s === undefined) return undefined;
    try {
      return parseDuration(s);
    } catch (e) {
      throw new UsageError(`--${name}: ${(e as Error).message}`);
    }
  };
  const distr = (name: string, s: string | undefined) => {
    if (s === undefined) return undefined;
    try {
      return parseDistribution(s);
    } catch (e) {
      throw new UsageError(`--${name}: ${(e as Error).message}`);
    }
  };
  const rate = positive('rate', v.rate, false);
  const concurrency = positive('concurrency', v.concurrency, true) ?? (rate === undefined ? 1 : undefined);
  const durationMs = dur('duration', v.duration);
  const requests = positive('requests', v.requests, true) ?? (durationMs === undefined ? 100 : undefined);
  let warmupRequests: number | undefined;
  let warmupMs: number | undefined;
  if (v.warmup !== undefined) {
    if (/^\d+$/.test(v.warmup)) warmupRequests = Number(v.warmup);
    else warmupMs = dur('warmup', v.warmup);
  }
  let maxErrorRate: number | undefined;
  if (v['max-error-rate'] !== undefined) {
    maxErrorRate = Number(v['max-error-rate']);
    if (!(maxErrorRate >= 0 && maxErrorRate <= 1)) throw new UsageError('--max-error-rate must be in [0, 1]');
  }
  const apiKey = v['api-key'] ?? process.env.OPENAI_API_KEY;
  const seed = v.seed !== undefined ? Number(v.seed) : 1;
  if (!Number.isInteger(seed)) throw new UsageError('--seed must be an integer');
  let model = v.model;
  if (!model) model = await firstModel(target.target, apiKey ? { ...headers, authorization: `Bearer ${apiKey}` } : headers);
  return {
    target: target.target,
    apiKey,
    model,
    endpoint,
    headers,
    extraBody,
    stream: !v['no-stream'],
    concurrency,
    rate,
    requests,
    durationMs,
    rampUpMs: dur('ramp-up', v['ramp-up']),
    warmupRequests,
    warmupMs,
    timeoutMs: dur('timeout', v.timeout),
    promptTokens: distr('prompt-tokens', v['prompt-tokens']),
    maxTokens: distr('max-tokens', v['max-tokens']),
    seed,
    metricsUrl: v['metrics-url'],
    metricsToken: v['metrics-token'] ?? (process.env.TOKENTAP_METRICS_TOKEN || undefined),
    discoverMetrics: !v['no-discover'],
    proxyLog: v['proxy-log'],
    runId: v['run-id'],
    json: v.json,
    html: v.html,
    maxErrorRate,
    quiet: v.quiet ?? false,
  };
}

/** Entry point for `tokentap bench`. Returns the exit code. */
export async function runBenchCli(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${BENCH_HELP}\n`);
    return 0;
  }
  let opts;
  const notes: string[] = [];
  const printNotes = () => notes.splice(0).forEach((n) => process.stderr.write(`tokentap bench: ${n}\n`));
  try {
    opts = await optionsFromArgv(argv, notes);
  } catch (e) {
    printNotes();
    if (e instanceof UsageError) {
      process.stderr.write(`tokentap bench: ${e.message}\n(see tokentap bench --help)\n`);
      return 2;
    }
    throw e;
  }
  printNotes();
  const progress = new Progress({
    out: process.stderr,
    tty: process.stderr.isTTY === true,
    total: opts.requests ?? null,
    durationMs: opts.durationMs ?? null,
  });
  const ac = new AbortController();
  const onSigint = (): void => {
    process.stderr.write('\ninterrupted: stopping, reporting what finished\n');
    ac.abort();
  };
  process.once('SIGINT', onSigint);
  try {
    const result = await runBench({
      ...opts,
      signal: ac.signal,
      onPhase: opts.quiet ? undefined : (p) => progress.setPhase(p),
      onRecord: opts.quiet ? undefined : (r) => progress.record(r),
    });
    progress.stop();
    process.stdout.write(`${renderReport(result)}\n`);
    if (opts.json) {
      await writeFile(opts.json, JSON.stringify({ runId: result.runId, startedAt: result.startedAt, config: result.config, summary: result.summary, requests: result.records }, null, 1));
      process.stdout.write(`wrote ${opts.json}\n`);
    }
    if (opts.html) {
      await writeFile(opts.html, renderHtml(result));
      process.stdout.write(`wrote ${opts.html}\n`);
    }
    const s = result.summary;
    if (opts.maxErrorRate !== undefined && s.errorRate > opts.maxErrorRate) {
      process.stderr.write(`error rate ${(s.errorRate * 100).toFixed(2)}% exceeds --max-error-rate ${opts.maxErrorRate}\n`);
      return 1;
    }
    if (s.requests > 0 && s.ok === 0) {
      process.stderr.write(`no request succeeded${firstError(result.records, endpointUrl(String(result.config.target), opts.endpoint ?? 'chat'))}\n`);
      return 1;
    }
    return 0;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
