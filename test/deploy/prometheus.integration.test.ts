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
 * - the engine and the GPU, as in the compose stack: job `vllm` scrapes the simulator's own /metrics when it
 *   serves vLLM's names, and always a vLLM v0.11.0 exposition from test/deploy/fixtures/vllm.prom (models
 *   demo-chat and demo-reasoner, counters growing with time, a growing queue); job `dcgm` scrapes NVIDIA's
 *   DCGM exporter exposition from test/deploy/fixtures/dcgm-exporter.prom (its metric names and labels). So
 *   the GPU and vLLM panels and rules are checked too, time outside the engine included.
 * - attribution, cost and tracing on, as in the compose stack: the main tokentap runs with `user_from`
 *   openwebui + api_key (requests carry Open WebUI's X-OpenWebUI-User-* headers, or only a bearer key), a price
 *   table that prices demo-chat and leaves demo-reasoner unpriced (tokentap_cost_unpriced_requests_total), and
 *   tracing to a loopback OTLP/HTTP sink, so the Usage row and TokentapUserTokenRateHigh have data;
 * - Prometheus runs with exemplar storage, as in the stack: /api/v1/query_exemplars must return tokentap's
 *   exemplars (request_id, trace_id) for the TTFT and E2E histograms, for the very expressions of the dashboard
 *   targets marked `exemplar: true`, and the exemplar label Grafana links to Jaeger must be on them.
 * Template variables: `label_values()` is checked with /api/v1/series.
 * Without the `prometheus` binary (Debian package prometheus) the file is skipped, with a line saying so;
 * under CI=true it fails instead.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { startTokentap } from '../../src/server.js';
import { startSimulator } from '../../src/sim/server.js';
import { startPrometheus, type RunningPrometheus } from '../helpers/prometheus.js';
import {
  DEPLOY,
  allPanels,
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
let prom: RunningPrometheus | undefined;
let proxyUrl = '';
let deadProxyUrl = '';
let simVllmMetrics = ''; // the simulator's /metrics when it serves vllm:* names, else ''
let otlpPosts = 0; // OTLP/HTTP export requests the trace sink received

/** Open WebUI's forwarded user headers (ENABLE_FORWARD_USER_INFO_HEADERS=true) for one of three users. */
const USERS = ['alice@example.com', 'bob@example.com', 'carol@example.com'];
const openWebUi = (k: number): Record<string, string> => {
  const email = USERS[k % USERS.length];
  return { 'x-openwebui-user-email': email, 'x-openwebui-user-id': `id-${k % USERS.length}`, 'x-openwebui-user-name': email.split('@')[0], 'x-openwebui-user-role': 'user' };
};
/** A script calling the API with its own key and no user header: attributed by key id (user_from api_key). */
const BARE_KEY = { authorization: 'Bearer sk-integration-test-key' };

/** A loopback OTLP/HTTP trace receiver that accepts every export (an empty protobuf ExportTraceServiceResponse). */
async function startTraceSink(): Promise<{ url: string; close: () => Promise<void> }> {
  const srv = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces') otlpPosts++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => srv.close(() => r())) };
}

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

/**
 * Serves the DCGM exporter fixture as it is at /dcgm/metrics, and the vLLM fixture at /vllm/metrics with every
 * counter sample (_total, _bucket, _sum, _count) and vllm:num_requests_waiting multiplied by the seconds since
 * start (the fixture's values are per second).
 */
async function startFixtureExporter(): Promise<{ host: string; close: () => Promise<void> }> {
  const dcgm = fixture('dcgm-exporter.prom');
  const vllm = fixture('vllm.prom');
  const t0 = Date.now();
  const grows = /^(vllm:\w+?(?:_total|_bucket|_sum|_count)|vllm:num_requests_waiting)\{/;
  const srv = createServer((req, res) => {
    const elapsed = (Date.now() - t0) / 1000;
    let body: string | undefined;
    if (req.url === '/dcgm/metrics') body = dcgm;
    else if (req.url === '/vllm/metrics')
      body = vllm.replace(/^(.+) (\S+)$/gm, (line, series: string, value: string) =>
        line.startsWith('#') || !grows.test(series) ? line : `${series} ${Number(value) * elapsed}`,
      );
    res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'text/plain; version=0.0.4' }).end(body ?? 'not found');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  return { host: `127.0.0.1:${port}`, close: () => new Promise((r) => srv.close(() => r())) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hostPort = (url: string) => new URL(url).host;

const promApi = (path: string, params: Record<string, string> = {}) => prom!.api(path, params);

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
    send(p, '/v1/chat/completions', chat(model), { ...reasoning, 'x-sim-cached-tokens': '8', ...openWebUi(i) }),
    send(p, '/v1/chat/completions', chat(model), { 'x-sim-ttft-ms': '120', 'x-sim-itl-ms': '15', ...openWebUi(i + 1) }),
    send(p, '/v1/chat/completions', chat(model, false), openWebUi(i + 2)),
    send(p, '/v1/completions', { model, prompt: 'Once upon a time', max_tokens: 10, stream: true }, BARE_KEY),
    send(p, '/v1/responses', { model, input: 'Hello there', max_output_tokens: 10, stream: true }, openWebUi(i)),
    send(p, '/v1/embeddings', { model, input: 'embed me' }, BARE_KEY),
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

  const sim = await startSimulator({ host: '127.0.0.1', port: 0, ttftMs: 30, itlMs: 5, outputTokens: 12 });
  closers.push(() => sim.close());
  const base = { host: '127.0.0.1', port: 0, metrics_host: '127.0.0.1', metrics_port: 0, access_log: 'off', shutdown_grace: '1s' };
  const sink = await startTraceSink();
  closers.push(sink.close);
  const tap = await startTokentap({
    ...base,
    upstream: sim.url,
    upstream_headers_timeout: '1s',
    // as in the compose stack (docker-compose.yml, deploy/tokentap/demo.yaml)
    user_from: ['openwebui', 'api_key'],
    key_id_secret: 'integration-test-secret',
    currency: 'USD',
    prices: { 'demo-chat': { input: 0.15, cached_input: 0.075, output: 0.6 } },
    tracing_endpoint: sink.url,
    tracing_sample_ratio: 1,
  });
  closers.unshift(() => tap.close());
  const deadUpstreamPort = await freePort();
  const deadTap = await startTokentap({ ...base, upstream: `http://127.0.0.1:${deadUpstreamPort}`, upstream_connect_timeout: '1s' });
  closers.unshift(() => deadTap.close());
  proxyUrl = tap.proxyUrl;
  deadProxyUrl = deadTap.proxyUrl;
  const unscrapeable = `127.0.0.1:${await freePort()}`;
  const exporter = await startFixtureExporter();
  closers.push(exporter.close);
  // The simulator's own vLLM metrics, once it serves them (as in the compose demo profile).
  simVllmMetrics = await fetch(`${sim.url}/metrics`).then(
    async (r) => {
      const text = r.ok ? await r.text() : '';
      return text.includes('vllm:') ? text : '';
    },
    () => '',
  );

  // rules.yml verbatim, thresholds zeroed (see the header comment).
  const rules = loadRules();
  const thresholds = rules.groups.find((g) => g.name === 'tokentap-thresholds');
  if (!thresholds) throw new Error('rules.yml has no tokentap-thresholds group');
  for (const r of thresholds.rules) r.expr = 'vector(0)';
  prom = await startPrometheus(
    prometheus,
    {
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: ['rules.yml'],
      scrape_configs: [
        { job_name: 'tokentap', static_configs: [{ targets: [hostPort(tap.metricsUrl), hostPort(deadTap.metricsUrl), unscrapeable] }] },
        {
          job_name: 'vllm',
          static_configs: [
            { targets: [exporter.host], labels: { __metrics_path__: '/vllm/metrics' } },
            ...(simVllmMetrics ? [{ targets: [hostPort(sim.url)] }] : []),
          ],
        },
        { job_name: 'dcgm', static_configs: [{ targets: [exporter.host], labels: { __metrics_path__: '/dcgm/metrics' } }] },
      ],
    },
    { 'rules.yml': toYaml(rules) },
  );

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

  await prom.ready(20_000);
}, 45_000);

afterAll(async () => {
  trafficOn = false;
  await traffic;
  for (const ac of holds) ac.abort();
  await prom?.close();
  for (const close of closers) await close().catch(() => undefined);
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

const isEngine = (e: NamedExpr) => /vllm:|DCGM_FI_|gpu:dcgm_/.test(e.expr);

/** The vllm:* metric names (histograms by their base name) an expression reads. */
const vllmNames = (expr: string) => [...expr.matchAll(/vllm:[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''));

describe.skipIf(skip)('dashboard and rules against a real Prometheus', () => {
  const dashboard = loadDashboard();
  const dashExprs = dashboardExprs(dashboard);
  const ruleExprs = rulesExprs(loadRules());

  it('extracts the expressions, the vLLM and GPU ones included', () => {
    expect(dashExprs.filter((e) => !isEngine(e)).length).toBeGreaterThanOrEqual(35);
    expect(ruleExprs.filter((e) => !isEngine(e)).length).toBeGreaterThanOrEqual(35);
    expect(dashExprs.filter(isEngine).length).toBeGreaterThanOrEqual(18);
    for (const alert of ['VllmRequestsQueued', 'VllmKvCacheFull', 'VllmSaturated', 'GpuMemoryHigh', 'TokentapTimeOutsideEngineHigh', 'TokentapUserTokenRateHigh'])
      expect(ruleExprs.map((e) => e.source)).toContain(`rule ${alert}`);
  });

  it('every dashboard panel query parses and returns data', async () => {
    const failures = await emptyOrFailing(dashExprs, Date.now() + 25_000);
    expect(failures, failures.join('\n')).toEqual([]);
  }, 40_000);

  it('every recording and alerting rule expression parses and returns data (thresholds at 0)', async () => {
    const failures = await emptyOrFailing(ruleExprs, Date.now() + 15_000);
    expect(failures, failures.join('\n')).toEqual([]);
  }, 30_000);

  it('the fixtures expose every vllm:* and DCGM metric the dashboard and rules read', () => {
    const all = [...dashExprs, ...ruleExprs].map((e) => e.expr).join('\n');
    const vllmFixture = fixture('vllm.prom');
    for (const name of new Set(vllmNames(all))) expect(vllmFixture, name).toContain(`# TYPE ${name} `);
    const dcgmFixture = fixture('dcgm-exporter.prom');
    for (const name of new Set([...all.matchAll(/DCGM_FI_[A-Z_]+/g)].map((m) => m[0]))) expect(dcgmFixture, name).toContain(`# TYPE ${name} `);
  });

  it("the simulator's own /metrics has every vllm:* metric the dashboard and rules read (once it serves them)", (ctx) => {
    if (!simVllmMetrics) return ctx.skip();
    const all = [...dashExprs, ...ruleExprs].map((e) => e.expr).join('\n');
    const missing = [...new Set(vllmNames(all))].filter((name) => !simVllmMetrics.includes(`# TYPE ${name} `));
    expect(missing).toEqual([]);
  });

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

  it('the Usage row has data per user: every Open WebUI user and the bare key id, never the key itself', async () => {
    const panel = allPanels(dashboard).find((p) => p.title === 'Tokens by user (time range)');
    expect(panel, 'no "Tokens by user (time range)" panel').toBeDefined();
    const res = await promApi('/api/v1/query', { query: substituteVariables(panel!.targets![0].expr!) });
    const users = (res.data as { result: { metric: { user?: string } }[] }).result.map((r) => r.metric.user ?? '');
    for (const u of USERS) expect(users).toContain(u);
    const keyIds = users.filter((u) => !USERS.includes(u));
    expect(keyIds.length, `users: ${users.join(', ')}`).toBeGreaterThan(0);
    expect(users.join()).not.toContain('sk-integration-test-key');
  });
});

/** The exemplars Prometheus stored for an expression over the last 2 minutes, flattened. */
async function exemplarsOf(expr: string): Promise<{ labels: Record<string, string>; value: string }[]> {
  const now = Date.now() / 1000;
  const res = await promApi('/api/v1/query_exemplars', { query: expr, start: String(now - 120), end: String(now) });
  if (res.status !== 'success') throw new Error(`query_exemplars ${expr}: ${res.error}`);
  return (res.data as { exemplars: { labels: Record<string, string>; value: string }[] }[]).flatMap((s) => s.exemplars);
}

describe.skipIf(skip)('exemplars through a real Prometheus with exemplar storage', () => {
  const dashboard = loadDashboard();
  const exemplarTargets = allPanels(dashboard).flatMap((p) =>
    (p.targets ?? []).filter((t) => t.exemplar).map((t) => ({ source: `panel #${p.id} "${p.title}" / ${t.refId}`, expr: t.expr! })),
  );
  const ds = parseYaml(readFileSync(`${DEPLOY}grafana/provisioning/datasources/prometheus.yml`, 'utf8')) as {
    datasources: { type: string; jsonData?: { exemplarTraceIdDestinations?: { name: string }[] } }[];
  };
  const traceLabel = ds.datasources.find((d) => d.type === 'prometheus')?.jsonData?.exemplarTraceIdDestinations?.[0]?.name;

  async function waitForExemplars(expr: string, deadline: number) {
    for (;;) {
      const found = await exemplarsOf(expr);
      if (found.length > 0 || Date.now() > deadline) return found;
      await sleep(1000);
    }
  }

  it("/api/v1/query_exemplars finds tokentap's TTFT exemplars, with a request_id and a trace_id", async () => {
    const found = await waitForExemplars('tokentap_time_to_first_token_seconds_bucket', Date.now() + 20_000);
    expect(found.length, prom!.log()).toBeGreaterThan(0);
    for (const e of found) {
      expect(e.labels.request_id, JSON.stringify(e)).toBeTruthy();
      expect(e.labels.trace_id, JSON.stringify(e)).toMatch(/^[0-9a-f]{32}$/);
      expect(Number(e.value)).toBeGreaterThan(0);
    }
    expect(otlpPosts, 'the trace sink received no OTLP export').toBeGreaterThan(0);
  }, 30_000);

  it('and the E2E histogram has them too', async () => {
    const found = await waitForExemplars('tokentap_request_duration_seconds_bucket', Date.now() + 20_000);
    expect(found.length).toBeGreaterThan(0);
    for (const e of found) expect(e.labels.request_id, JSON.stringify(e)).toBeTruthy();
  }, 30_000);

  it('every dashboard target with `exemplar: true` gets exemplars carrying the label Grafana links to Jaeger', async () => {
    expect(traceLabel).toBe('trace_id');
    expect(exemplarTargets.length).toBeGreaterThanOrEqual(2);
    for (const t of exemplarTargets) {
      const found = await waitForExemplars(substituteVariables(t.expr), Date.now() + 15_000);
      expect(found.length, `${t.source}: no exemplars for ${t.expr}`).toBeGreaterThan(0);
      expect(found.some((e) => /^[0-9a-f]{32}$/.test(e.labels[traceLabel!] ?? '')), t.source).toBe(true);
    }
  }, 60_000);
});
