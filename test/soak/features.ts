/**
 * The soak's newer features (`--plain` leaves them off): tokentap runs with attribution (users from a header,
 * the body's `user` and API keys, bounded to MAX_USERS labels), a price table, and tracing to a collector
 * that refuses one second in four (503: the exporter retries or drops); clients send thousands of users and
 * keys, values that must not be users (too long, control characters, duplicated headers), request ids
 * with quotes and backslashes, and trace contexts (long, invalid); a scraper alternates the classic and OpenMetrics formats throughout. The soak
 * then checks: every request has one user count and one span (exported or counted as dropped), the user
 * label stays bounded, and every exposition of either format parses (exemplar label sets within 128
 * characters, `# EOF` last, no duplicate series; `promtool check metrics` when installed).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { parseExposition } from '../../dist/bench/prom-scrape.js';
import { decodeSpans } from '../trace/otlp-receiver.ts';

export const MAX_USERS = 50;
const USERS = 5000;
const KEYS = 2000;

/** tokentap's extra command-line arguments and environment: a config file with the features on. */
export function featureOptions(collectorUrl: string): { args: string[]; env: Record<string, string> } {
  const file = join(mkdtempSync(join(tmpdir(), 'tokentap-soak-')), 'config.yaml');
  writeFileSync(
    file,
    [
      'user_from: [header:x-soak-user, body:user, api_key]',
      'key_id_secret: soak-key-id-secret-0123456789',
      `max_users: ${MAX_USERS}`,
      'prices:',
      '  soak: { input: 0.5, cached_input: 0.1, output: 1.5 }',
      '  "*": { input: 1, output: 2 }',
      `tracing_endpoint: ${collectorUrl}`,
    ].join('\n'),
  );
  return { args: ['--config', file], env: { OTEL_BSP_SCHEDULE_DELAY: '200' } };
}

const pick = (n: number) => Math.floor(Math.random() * n);

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
/** Client trace contexts, all sampled or invalid (a root span, sampled): every routed request is exported. */
const TRACEPARENTS = [
  `00-${TRACE}-${SPAN}-01`,
  `01-${TRACE}-${SPAN}-01-${'f'.repeat(2000)}`, // a future version: kilobytes after the flags are valid
  `00-${TRACE.toUpperCase()}-${SPAN}-01`, // invalid: a new trace
  `00-${'0'.repeat(32)}-${SPAN}-01`, // invalid: a new trace
];

/** Who one request says it is: extra headers and the body's `user` member (undefined: none). */
export function identity(n: number): { headers: Record<string, string | string[]>; user: string | undefined } {
  const headers: Record<string, string | string[]> = {};
  if (n % 7 === 0) headers['x-request-id'] = `soak"\\${n}`; // quotes and backslashes, as an exemplar label
  if (n % 11 === 0) {
    headers.traceparent = TRACEPARENTS[pick(TRACEPARENTS.length)];
    headers.tracestate = Array.from({ length: 1 + pick(100) }, (_, k) => `k${k}=v${n}`).join(',');
  }
  const r = Math.random();
  let user: string | undefined;
  if (r < 0.35) headers['x-soak-user'] = `user-${pick(USERS)}@example.com`;
  else if (r < 0.55) user = `body-${pick(USERS)}`;
  else if (r < 0.8) headers.authorization = `Bearer sk-soak-${pick(KEYS)}`;
  else if (r < 0.84) headers['x-soak-user'] = 'x'.repeat(10_000); // too long: not a user
  else if (r < 0.88) headers['x-soak-user'] = ['dup-a', 'dup-b'];
  else if (r < 0.92) user = '\u001b[31mesc\u0000'; // control characters: not a user
  else if (r < 0.94) user = '\ud800'; // a lone surrogate: not a user
  return { headers, user };
}

/** An OTLP/HTTP collector that answers 503 one second in four and counts the spans it took (decoded). */
export async function flappingCollector(): Promise<{ url: string; spans(): number; refused(): number; close(): Promise<void> }> {
  let spans = 0;
  let refused = 0;
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      if (Math.floor(Date.now() / 1000) % 4 === 0) {
        refused++;
        return void res.writeHead(503).end();
      }
      spans += decodeSpans(Buffer.concat(parts)).length;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans: () => spans,
    refused: () => refused,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Code points of an exemplar's label names and values (unescaped), which OpenMetrics bounds at 128. */
function exemplarChars(labels: string): number {
  let n = 0;
  for (const m of labels.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
    n += [...m[1]].length + [...m[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))].length;
  }
  return n;
}

/** What is wrong with one exposition, or null. */
export function expositionProblem(text: string, openMetrics: boolean, contentType: string): string | null {
  if (openMetrics !== contentType.startsWith('application/openmetrics-text')) return `content type ${contentType}`;
  if (openMetrics && !text.endsWith('# EOF\n')) return 'OpenMetrics without # EOF last';
  const series = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const ex = line.indexOf(' # {');
    if (ex >= 0) {
      if (!openMetrics) return `an exemplar in the classic format: ${line.slice(0, 200)}`;
      const chars = exemplarChars(line.slice(ex + 4, line.indexOf('}', ex)));
      if (chars > 128) return `exemplar label set of ${chars} characters: ${line.slice(0, 200)}`;
    }
    const sample = ex >= 0 ? line.slice(0, ex) : line;
    const key = sample.slice(0, sample.lastIndexOf(' '));
    if (series.has(key)) return `duplicate series ${key.slice(0, 200)}`;
    series.add(key);
  }
  try {
    parseExposition(text);
  } catch (err) {
    return `unparsable: ${(err as Error).message.slice(0, 200)}`;
  }
  return null;
}

/** Scrapes `metricsUrl` every 250 ms, alternating the two formats, until stopped; the problems found. */
export function scrapeBothFormats(metricsUrl: string): { stop(): Promise<{ scrapes: number; problems: string[]; lastClassic: string }> } {
  let stopped = false;
  let scrapes = 0;
  let lastClassic = '';
  const problems: string[] = [];
  const loop = (async () => {
    for (let i = 0; !stopped; i++) {
      const openMetrics = i % 2 === 1;
      try {
        const res = await request(`${metricsUrl}/metrics`, { headers: openMetrics ? { accept: 'application/openmetrics-text;version=1.0.0' } : {} });
        const text = await res.body.text();
        const problem = expositionProblem(text, openMetrics, String(res.headers['content-type']));
        if (problem !== null) problems.push(problem);
        if (!openMetrics) lastClassic = text;
        scrapes++;
      } catch (err) {
        problems.push(`scrape failed: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { scrapes, problems, lastClassic };
    },
  };
}

/** `promtool check metrics` on a classic exposition: null when clean or promtool is not installed. */
export function promtoolProblem(text: string): string | null {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  if (run.error !== undefined) return null; // not installed
  return run.status === 0 ? null : `promtool: ${(run.stdout + run.stderr).slice(0, 300)}`;
}
