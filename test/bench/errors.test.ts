/**
 * The bench's errors name the URL and the cause in words (fetch()'s "fetch failed" unwrapped, undici's codes
 * such as UND_ERR_SOCKET said), and a --target without /v1 works: against real servers on port 0 — the
 * simulator, a port nobody listens on, a server that hangs up on every request.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBenchCli } from '../../src/bench/cli.js';
import { codeInWords, describeError, errorCode } from '../../src/bench/net-errors.js';
import { renderReport } from '../../src/bench/report-table.js';
import { runBench } from '../../src/bench/run.js';
import { normalizeTarget } from '../../src/bench/target.js';
import { startSimulator } from '../../src/sim/server.js';
import { captureOutput } from './output.js';

let sim: Awaited<ReturnType<typeof startSimulator>>;
let closedPort: number;
/** Accepts connections and closes each one as soon as the request arrives. */
let hangUp: Server;
let hangUpUrl: string;
const dir = mkdtempSync(join(tmpdir(), 'tokentap-bench-err-'));

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

beforeAll(async () => {
  sim = await startSimulator({ port: 0, ttftMs: 5, itlMs: 1, outputTokens: 3 });
  const probe = createServer();
  closedPort = await listen(probe);
  await new Promise((r) => probe.close(r));
  const sockets = new Set<Socket>();
  hangUp = createServer((s) => {
    sockets.add(s);
    s.once('data', () => s.destroy());
    s.on('close', () => sockets.delete(s));
  });
  hangUpUrl = `http://127.0.0.1:${await listen(hangUp)}`;
  hangUp.on('close', () => sockets.forEach((s) => s.destroy()));
});

afterAll(async () => {
  await sim?.close();
  await new Promise((r) => hangUp?.close(r));
});

/** runBenchCli with its output captured. */
async function cli(args: string[]): Promise<{ code: number; text: string }> {
  const cap = captureOutput();
  try {
    const code = await runBenchCli(args);
    return { code, text: cap.text };
  } finally {
    cap.restore();
  }
}

describe('describeError', () => {
  it("unwraps fetch()'s cause, AggregateError included, and says the code in words", async () => {
    const refused = await fetch(`http://127.0.0.1:${closedPort}/`).catch((e: unknown) => e);
    expect((refused as Error).message).toBe('fetch failed');
    expect(errorCode(refused)).toBe('ECONNREFUSED');
    expect(describeError(refused)).toBe('connection refused (is the server running, on that host and port?) [ECONNREFUSED]');

    const both = Object.assign(new AggregateError([Object.assign(new Error('connect ECONNREFUSED ::1:1'), { code: 'ECONNREFUSED' })]), { code: 'ECONNREFUSED' });
    expect(describeError(new TypeError('fetch failed', { cause: both }))).toMatch(/^connection refused .* \[ECONNREFUSED\]$/);

    const closed = await fetch(hangUpUrl).catch((e: unknown) => e);
    expect(describeError(closed)).toBe('the server closed the connection [UND_ERR_SOCKET]');

    expect(describeError(Object.assign(new Error('weird'), { code: 'EWEIRD' }))).toBe('weird [EWEIRD]');
    expect(describeError(new DOMException('The operation was aborted due to timeout', 'TimeoutError'), 1500)).toBe('no answer within 1.5 s');
    expect(codeInWords('HPE_INVALID_CONSTANT')).toMatch(/not HTTP/);
  });
});

describe('normalizeTarget', () => {
  it('appends /v1 to a bare origin, cuts an endpoint URL to its base, keeps any other path', () => {
    expect(normalizeTarget('http://h:8080')).toEqual({ target: 'http://h:8080/v1', note: expect.stringContaining('has no path: using http://h:8080/v1') });
    expect(normalizeTarget('http://h:8080/').target).toBe('http://h:8080/v1');
    expect(normalizeTarget('http://h:8080/v1/')).toEqual({ target: 'http://h:8080/v1', note: null });
    expect(normalizeTarget('https://gw.example/openai/v1')).toEqual({ target: 'https://gw.example/openai/v1', note: null });
    expect(normalizeTarget('http://h/v1/chat/completions')).toMatchObject({ target: 'http://h/v1', endpoint: 'chat' });
    expect(normalizeTarget('http://h/v1/completions')).toMatchObject({ target: 'http://h/v1', endpoint: 'completions' });
    expect(normalizeTarget('http://h/v1/responses')).toMatchObject({ target: 'http://h/v1', endpoint: 'responses' });
    expect(() => normalizeTarget('h:8080')).toThrow(/http:\/\/ or https:\/\//);
    expect(() => normalizeTarget('not a url')).toThrow('--target is not a URL: not a url');
  });
});

describe('tokentap bench errors', () => {
  it('an unreachable target without --model: names GET …/v1/models and the cause (exit 2)', async () => {
    const { code, text } = await cli(['--target', `http://127.0.0.1:${closedPort}`, '--requests', '2']);
    expect(code).toBe(2);
    expect(text).toContain(`--target http://127.0.0.1:${closedPort} has no path: using http://127.0.0.1:${closedPort}/v1`);
    expect(text).toContain(
      `--model not given, and GET http://127.0.0.1:${closedPort}/v1/models (to find one) failed: connection refused (is the server running, on that host and port?) [ECONNREFUSED]`,
    );
    expect(text).not.toContain('fetch failed');
  });

  it('an unreachable target: "no request succeeded" names the URL and the cause (exit 1)', async () => {
    const { code, text } = await cli(['--target', `http://127.0.0.1:${closedPort}/v1`, '--model', 'm', '--requests', '2', '--quiet', '--no-discover']);
    expect(code).toBe(1);
    expect(text).toContain(`no request succeeded: POST http://127.0.0.1:${closedPort}/v1/chat/completions: connection refused`);
    expect(text).toMatch(/^\s+2 {2}ECONNREFUSED \(connection refused/m);
  });

  it('a server that hangs up: UND_ERR_SOCKET is said in words, in the records and the report', async () => {
    const r = await runBench({ target: `${hangUpUrl}/v1`, model: 'm', requests: 2, metricsUrl: null });
    expect(r.summary.errorBreakdown).toEqual({ UND_ERR_SOCKET: 2 });
    expect(r.records[0].errorMessage).toBe(`POST ${hangUpUrl}/v1/chat/completions: the server closed the connection [UND_ERR_SOCKET]`);
    expect(renderReport(r)).toContain('UND_ERR_SOCKET (the server closed the connection)');
  });

  it('a /metrics that cannot be scraped is named with the cause', async () => {
    const r = await runBench({ target: `${sim.url}/v1`, model: 'm', requests: 1, metricsUrl: `http://127.0.0.1:${closedPort}` });
    expect(r.summary.proxyError).toBe(`GET http://127.0.0.1:${closedPort}/metrics: connection refused (is the server running, on that host and port?) [ECONNREFUSED]`);
    expect(renderReport(r)).toContain(`proxy side not shown: GET http://127.0.0.1:${closedPort}/metrics: connection refused`);
  });

  it('a --target without /v1 works: /v1 is appended, with a note', async () => {
    const json = join(dir, 'bare.json');
    const { code, text } = await cli(['--target', sim.url, '--requests', '3', '--max-tokens', '2', '--quiet', '--no-discover', '--json', json]);
    expect(code).toBe(0);
    expect(text).toContain(`has no path: using ${sim.url}/v1`);
    const doc = JSON.parse(readFileSync(json, 'utf8')) as { config: { target: string; model: string }; summary: { ok: number } };
    expect(doc.summary.ok).toBe(3);
    expect(doc.config.target).toBe(`${sim.url}/v1`);
    expect(doc.config.model).toBeTruthy(); // found with GET /v1/models
  });

  it('an endpoint URL as --target: its base, and its endpoint', async () => {
    const json = join(dir, 'endpoint.json');
    const { code } = await cli(['--target', `${sim.url}/v1/completions`, '--model', 'm', '--requests', '2', '--max-tokens', '2', '--quiet', '--no-discover', '--json', json]);
    expect(code).toBe(0);
    const doc = JSON.parse(readFileSync(json, 'utf8')) as { config: { target: string; endpoint: string }; summary: { ok: number } };
    expect(doc.config).toMatchObject({ target: `${sim.url}/v1`, endpoint: 'completions' });
    expect(doc.summary.ok).toBe(2);
  });

  it('a wrong base path: the 404 is named with the URL and what to change', async () => {
    const { code, text } = await cli(['--target', `${sim.url}/api`, '--model', 'm', '--requests', '2', '--quiet', '--no-discover']);
    expect(code).toBe(1);
    expect(text).toContain(`no request succeeded: POST ${sim.url}/api/chat/completions answered HTTP 404`);
    expect(text).toContain('(is --target the API base? it usually ends in /v1)');
  });
});
