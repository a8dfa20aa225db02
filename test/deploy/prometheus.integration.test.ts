/**
 * The dashboard and the rules against a real Prometheus: the simulator, tokentap, and the `prometheus`
 * binary on loopback (1 s scrape and rule-evaluation interval, temporary storage), streaming traffic with
 * errors, timeouts and client aborts, then every PromQL expression of the dashboard JSON and of rules.yml is
 * sent to /api/v1/query and must parse and return a non-empty result.
 *
 * What is arranged so that every expression has data:
 * - a second tokentap whose upstream is a closed port (outcome `unreachable`), and a scrape target nobody
 *   serves (`up == 0`, TokentapDown);
 * - a few `x-sim-fault: stall` streams held open while querying (in flight > 0);
 * - rules.yml is loaded verbatim except the `tokentap-thresholds` group, whose constants are set to 0, so
 *   each alert expression is true on this traffic: it proves the alert's series, labels and joins match
 *   what tokentap exports. The real thresholds are unit-tested by `promtool test rules` (tools.test.ts).
 * Skipped: expressions mentioning `vllm:` (no vLLM here; they only have data when vLLM is scraped, in the
 * compose `gpu` profile). Template variables: `label_values()` is checked with /api/v1/series.
 * Without the `prometheus` binary (Debian package prometheus) the file is skipped, with a line saying so;
 * under CI=true it fails instead.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { startTokentap } from '../../src/server.js';
import { startSimulator } from '../../src/sim/server.js';
import {
  dashboardExprs,
  freePort,
  loadDashboard,
  loadRules,
  requireBinary,
  rulesExprs,
  skipWithout,
  substituteVariables,
  variableQueries,
  type NamedExpr,
} from './helpers.js';

const closers: (() => Promise<void>)[] = [];
const holds: AbortController[] = [];
let prom: ChildProcess | undefined;
let promLog = '';
let promUrl = '';
let proxyUrl = '';
let deadProxyUrl = '';
let tmp = '';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hostPort = (url: string) => new URL(url).host;

async function promApi(path: string, params: Record<string, string> = {}): Promise<{ status: string; data: unknown; error?: string }> {
  const res = await fetch(`${promUrl}${path}?${new URLSearchParams(params)}`);
  return (await res.json()) as { status: string; data: unknown; error?: string };
}

/** Sends one request through a proxy and consumes (or abandons) the response; never throws. */
async function send(base: string, path: string, body: object, headers: Record<string, string> = {}, abortAfterFirstChunk = false) {
  const ac = new AbortController();
  try {
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
      signal: ac.signal,
    });
    const reader = res.body?.getReader();
    while (reader) {
      const { done } = await reader.read();
      if (done) break;
      if (abortAfterFirstChunk) return ac.abort();
    }
  } catch {
    // dropped streams (`die`), aborts and 5xx are the point of some requests
  }
}

const chat = (model: string, stream = true) => ({
  model,
  messages: [{ role: 'user', content: 'Say something about tokens and latency, please.' }],
  max_tokens: 12,
  stream,
  ...(stream ? { stream_options: { include_usage: true } } : {}),
});

/** One round of the traffic mix: ok streams of every endpoint, faults, a client abort, an unreachable upstream. */
function round(i: number): Promise<unknown> {
  const model = i % 2 === 0 ? 'demo-chat' : 'demo-reasoner';
  const reasoning: Record<string, string> = model === 'demo-reasoner' ? { 'x-sim-reasoning-tokens': '6' } : {};
  const p = proxyUrl;
  return Promise.all([
    send(p, '/v1/chat/completions', chat(model), { ...reasoning, 'x-sim-cached-tokens': '8' }),
    send(p, '/v1/chat/completions', chat(model), { 'x-sim-ttft-ms': '120', 'x-sim-itl-ms': '15' }),
    send(p, '/v1/chat/completions', chat(model, false)),
    send(p, '/v1/completions', { model, prompt: 'Once upon a time', max_tokens: 10, stream: true }),
    send(p, '/v1/responses', { model, input: 'Hello there', max_output_tokens: 10, stream: true }),
    send(p, '/v1/embeddings', { model, input: 'embed me' }),
    send(p, '/v1/chat/completions', chat(model), { 'x-sim-fault': i % 2 === 0 ? 'http-500' : 'http-429' }),
    send(p, '/v1/chat/completions', chat(model), { 'x-sim-fault': i % 2 === 0 ? 'inband-error' : 'die' }),
    send(p, '/v1/chat/completions', chat(model), { 'x-sim-fault': 'http-400' }),
    send(p, '/v1/chat/completions', chat(model), { 'x-sim-itl-ms': '40', 'x-sim-output-tokens': '40' }, true),
    send(deadProxyUrl, '/v1/chat/completions', chat(model)),
    i % 4 === 0 ? send(p, '/v1/chat/completions', chat(model), { 'x-sim-fault': 'no-headers' }) : null,
  ]);
}

const skip = skipWithout('prometheus');
let trafficOn = true;
let traffic: Promise<void> = Promise.resolve();

beforeAll(async () => {
  if (skip) return;
  const prometheus = requireBinary('prometheus');
  tmp = mkdtempSync(join(tmpdir(), 'tokentap-prom-'));

  const sim = await startSimulator({ host: '127.0.0.1', port: 0, ttftMs: 30, itlMs: 5, outputTokens: 12 });
  closers.push(() => sim.close());
  const base = { host: '127.0.0.1', port: 0, metrics_host: '127.0.0.1', metrics_port: 0, access_log: 'off', shutdown_grace: '1s' };
  const tap = await startTokentap({ ...base, upstream: sim.url, upstream_headers_timeout: '1s' });
  closers.unshift(() => tap.close());
  const deadUpstreamPort = await freePort();
  const deadTap = await startTokentap({ ...base, upstream: `http://127.0.0.1:${deadUpstreamPort}`, upstream_connect_timeout: '1s' });
  closers.unshift(() => deadTap.close());
  proxyUrl = tap.proxyUrl;
  deadProxyUrl = deadTap.proxyUrl;
  const unscrapeable = `127.0.0.1:${await freePort()}`;

  // rules.yml verbatim, thresholds zeroed (see the header comment).
  const rules = loadRules();
  const thresholds = rules.groups.find((g) => g.name === 'tokentap-thresholds');
  if (!thresholds) throw new Error('rules.yml has no tokentap-thresholds group');
  for (const r of thresholds.rules) r.expr = 'vector(0)';
  writeFileSync(join(tmp, 'rules.yml'), toYaml(rules));
  writeFileSync(
    join(tmp, 'prometheus.yml'),
    toYaml({
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: ['rules.yml'],
      scrape_configs: [
        { job_name: 'tokentap', static_configs: [{ targets: [hostPort(tap.metricsUrl), hostPort(deadTap.metricsUrl), unscrapeable] }] },
      ],
    }),
  );

  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  prom = spawn(
    prometheus,
    [
      `--config.file=${join(tmp, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(tmp, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  prom.stdout?.on('data', (b: Buffer) => (promLog += b.toString()));
  prom.stderr?.on('data', (b: Buffer) => (promLog += b.toString()));

  // Stalled streams stay in flight until afterAll.
  for (let i = 0; i < 3; i++) {
    const ac = new AbortController();
    holds.push(ac);
    void fetch(`${proxyUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-sim-fault': 'stall' },
      body: JSON.stringify(chat('demo-chat')),
      signal: ac.signal,
    }).then((r) => r.body?.getReader().read(), () => undefined).catch(() => undefined);
  }
  // Traffic runs until every query is done, so rate() windows always contain fresh samples.
  traffic = (async () => {
    for (let i = 0; trafficOn; i++) await Promise.all([round(i), sleep(250)]);
  })();

  for (let t = Date.now(); ; await sleep(200)) {
    if (prom.exitCode !== null) throw new Error(`prometheus exited with ${prom.exitCode}:\n${promLog}`);
    const ready = await fetch(`${promUrl}/-/ready`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() - t > 20_000) throw new Error(`prometheus not ready after 20 s:\n${promLog}`);
  }
}, 45_000);

afterAll(async () => {
  trafficOn = false;
  await traffic;
  for (const ac of holds) ac.abort();
  if (prom && prom.exitCode === null) {
    const exited = new Promise((r) => prom!.once('exit', r));
    prom.kill('SIGTERM');
    await Promise.race([exited, sleep(5_000).then(() => prom!.kill('SIGKILL'))]);
  }
  for (const close of closers) await close().catch(() => undefined);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}, 30_000);

/** Queries each expression until it returns data or the deadline passes; returns the ones that never did. */
async function emptyOrFailing(exprs: NamedExpr[], deadline: number): Promise<string[]> {
  let pending = exprs;
  const errors = new Map<string, string>();
  while (pending.length > 0) {
    const next: NamedExpr[] = [];
    for (const e of pending) {
      const res = await promApi('/api/v1/query', { query: substituteVariables(e.expr) });
      if (res.status !== 'success') errors.set(e.source, `${e.source}: query error ${res.error}\n    ${e.expr}`);
      else if ((res.data as { result: unknown[] }).result.length === 0) next.push(e);
    }
    pending = next.filter((e) => !errors.has(e.source));
    if (pending.length === 0 || Date.now() > deadline) break;
    await sleep(1000);
  }
  return [...errors.values(), ...pending.map((e) => `${e.source}: empty result\n    ${e.expr}`)];
}

const isVllm = (e: NamedExpr) => e.expr.includes('vllm:');

describe.skipIf(skip)('dashboard and rules against a real Prometheus', () => {
  const dashboard = loadDashboard();
  const dashExprs = dashboardExprs(dashboard);
  const ruleExprs = rulesExprs(loadRules());

  it('extracts the expressions (vLLM-only ones are skipped: no vLLM in this test)', () => {
    expect(dashExprs.filter((e) => !isVllm(e)).length).toBeGreaterThanOrEqual(35);
    expect(ruleExprs.filter((e) => !isVllm(e)).length).toBeGreaterThanOrEqual(35);
    // vLLM queries live only in the "… vs vLLM" panels, beside tokentap's own (which are checked).
    expect(dashExprs.filter(isVllm).every((e) => /^panel #\d+ "[^"]*vLLM/.test(e.source))).toBe(true);
    expect(ruleExprs.filter(isVllm).map((e) => e.source)).toEqual(['rule VllmRequestsQueued']);
  });

  it('every dashboard panel query parses and returns data', async () => {
    const failures = await emptyOrFailing(dashExprs.filter((e) => !isVllm(e)), Date.now() + 25_000);
    expect(failures, failures.join('\n')).toEqual([]);
  }, 40_000);

  it('every recording and alerting rule expression parses and returns data (thresholds at 0)', async () => {
    const failures = await emptyOrFailing(ruleExprs.filter((e) => !isVllm(e)), Date.now() + 15_000);
    expect(failures, failures.join('\n')).toEqual([]);
  }, 30_000);

  it('Prometheus evaluates every rule without error', async () => {
    const res = await promApi('/api/v1/rules');
    const groups = (res.data as { groups: { rules: { name: string; health: string; lastError?: string }[] }[] }).groups;
    const bad = groups.flatMap((g) => g.rules).filter((r) => r.health === 'err');
    expect(bad.map((r) => `${r.name}: ${r.lastError}`)).toEqual([]);
    expect(groups.flatMap((g) => g.rules).length).toBe(ruleExprs.length);
  });

  it('the template variables find values (label_values via /api/v1/series)', async () => {
    for (const v of variableQueries(dashboard)) {
      const res = await promApi('/api/v1/series', { 'match[]': substituteVariables(v.selector) });
      const values = new Set((res.data as Record<string, string>[]).map((s) => s[v.label]).filter(Boolean));
      expect(values.size, `variable ${v.name}: label_values(${v.selector}, ${v.label})`).toBeGreaterThan(0);
    }
  });
});
