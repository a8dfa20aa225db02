/**
 * The `tokentap` command as deployed (dist/cli.js, built by `npm test`'s pretest), with the standard
 * OpenTelemetry environment: tracing off loads no OpenTelemetry module at all and passes traceparent and
 * tracestate through untouched; OTEL_EXPORTER_OTLP_ENDPOINT turns it on; OTEL_TRACES_EXPORTER=none keeps it
 * off; with --workers each worker exports its own spans. Which modules a process loaded is recorded by a
 * module resolve hook (record-modules.mjs, via NODE_OPTIONS=--import).
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, STARTUP } from '../cli/spawn.js';
import { CHAT_COMPLETION_ANSWER, startRawUpstream, type RawUpstream } from '../helpers/raw-upstream.js';
import { startOtlpReceiver, type OtlpReceiver } from './otlp-receiver.js';

const DIST_TRACE = new URL('../../dist/trace/', import.meta.url).href;
const HOOK = fileURLToPath(new URL('./record-modules.mjs', import.meta.url));
const CLIENT_TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

let upstream: RawUpstream;
let receiver: OtlpReceiver;
beforeAll(async () => {
  upstream = await startRawUpstream((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(CHAT_COMPLETION_ANSWER));
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await upstream?.close();
  await receiver?.close();
});

/**
 * The OpenTelemetry packages a process loaded, except @opentelemetry/api: prom-client requires that one for
 * itself (its process CPU counter, exemplars), with or without tracing, as before tracing existed.
 */
const otelSdk = (modules: string) => [...new Set(modules.split('\n').filter((m) => m.includes('/@opentelemetry/') && !m.includes('/@opentelemetry/api/')).map((m) => /@opentelemetry\/[^/]+/.exec(m)![0]))];

const ARGS = ['--host', '127.0.0.1', '--port', '0', '--metrics-host', '127.0.0.1', '--metrics-port', '0', '--log', 'off'];

/** Runs tokentap with `env`, sends `requests` chat requests (new connections), stops it; what it loaded and printed. */
async function run(env: Record<string, string>, { requests = 1, workers = 1 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'tokentap-modules-'));
  const cli = startCli(['--upstream', upstream.url, ...ARGS, '--workers', String(workers)], {
    NODE_OPTIONS: `--import=${HOOK}`,
    RECORD_MODULES_FILE: join(dir, 'modules'),
    ...env,
  });
  try {
    const [, proxyUrl] = await cli.waitFor(STARTUP, 30_000);
    const sent = [];
    for (let i = 0; i < requests; i++) {
      const res = await fetch(`${proxyUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', connection: 'close', traceparent: CLIENT_TRACEPARENT, tracestate: 'vendor=abc' },
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
      });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(CHAT_COMPLETION_ANSWER);
      const requestId = res.headers.get('x-request-id')!;
      sent.push({ requestId, upstream: upstream.requests.find((r) => r.headers['x-request-id'] === requestId)! });
    }
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
    const files = readdirSync(dir).map((f) => join(dir, f));
    const modules = files.map((f) => readFileSync(f, 'utf8')).join('\n');
    return { sent, stderr: cli.stderr(), modules, processes: files.length };
  } finally {
    if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
  }
}

describe('tracing from the command line', () => {
  it('off (no OTEL endpoint, no tracing_endpoint): no OpenTelemetry SDK module is loaded, trace headers pass untouched', async () => {
    const r = await run({});
    expect(r.modules).toContain('/dist/proxy/forward.js'); // the recorder works: it saw the proxy load
    expect(otelSdk(r.modules)).toEqual([]);
    // only the pure settings module of src/trace/ (it decides that tracing is off)
    expect(r.modules.split('\n').filter((m) => m.startsWith(DIST_TRACE))).toEqual([`${DIST_TRACE}settings.js`]);
    expect(r.stderr).not.toContain('tracing');
    expect(r.sent[0].upstream.headers.traceparent).toBe(CLIENT_TRACEPARENT);
    expect(r.sent[0].upstream.headers.tracestate).toBe('vendor=abc');
  }, 60_000);

  it('OTEL_TRACES_EXPORTER=none keeps it off even with an endpoint; so does OTEL_SDK_DISABLED=true', async () => {
    for (const off of [{ OTEL_TRACES_EXPORTER: 'none' }, { OTEL_SDK_DISABLED: 'true' }] as Record<string, string>[]) {
      const r = await run({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, ...off });
      expect(otelSdk(r.modules)).toEqual([]);
      expect(r.sent[0].upstream.headers.traceparent).toBe(CLIENT_TRACEPARENT);
    }
  }, 60_000);

  it('OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_SERVICE_NAME turn it on: a startup line, the SDK loaded, the span exported at SIGTERM', async () => {
    const before = receiver.spans.length;
    // a long batch delay: the span reaches the collector only through the shutdown flush
    const r = await run({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'gateway-a', OTEL_BSP_SCHEDULE_DELAY: '60000' });
    expect(otelSdk(r.modules)).toEqual(expect.arrayContaining(['@opentelemetry/sdk-trace', '@opentelemetry/exporter-trace-otlp-proto', '@opentelemetry/core']));
    expect(r.stderr).toContain(`tokentap: tracing: spans of service gateway-a to ${receiver.url}/v1/traces (OTLP/HTTP, from OTEL_EXPORTER_OTLP_ENDPOINT), sampler parentbased_always_on`);
    const span = receiver.spans.slice(before).find((s) => s.attributes['tokentap.request_id'] === r.sent[0].requestId);
    expect(span?.resource['service.name']).toBe('gateway-a');
    expect(span?.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(r.sent[0].upstream.headers.traceparent).toBe(`00-4bf92f3577b34da6a3ce929d0e0e4736-${span?.spanId}-01`);
  }, 60_000);

  it('--workers 2: each worker exports its own spans', async () => {
    const before = receiver.spans.length;
    const r = await run({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '20' }, { requests: 12, workers: 2 });
    expect(r.stderr).toContain('each worker exports its own');
    const spans = receiver.spans.slice(before);
    const ids = new Set(r.sent.map((s) => s.requestId));
    const mine = spans.filter((s) => ids.has(String(s.attributes['tokentap.request_id'])));
    expect(mine).toHaveLength(12);
    const pids = new Set(mine.map((s) => s.resource['process.pid']));
    expect(pids.size).toBe(2); // connections are spread over both workers, and both exported
    expect(r.processes).toBe(3); // the primary and two workers recorded their modules
  }, 90_000);
});
