/**
 * Scrapes over real sockets against a flood of series: the event loop that relays streams keeps turning while
 * /metrics is rendered, and concurrent scrapes share one rendering.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import client from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { TTFT_BUCKETS } from '../../src/config/buckets.js';
import { validateConfig } from '../../src/config/load.js';
import { FastCounter } from '../../src/metrics/fast-counter.js';
import { FastHistogram } from '../../src/metrics/fast-histogram.js';
import { renderExposition } from '../../src/metrics/sliced-render.js';
import { startMetricsServer } from '../../src/server.js';

let server: { url: string; close(): Promise<void> } | undefined;
let scrapers: ChildProcessWithoutNullStreams | undefined;
afterEach(async () => {
  scrapers?.kill();
  await server?.close();
  server = scrapers = undefined;
});

/** 44,000 series, about 15 MB of text (twice what a flood of model names once produced): 40,000 counter
 * series, and 4,000 histogram series of 22 buckets. */
function flood() {
  const reg = new client.Registry();
  const ttft = new FastHistogram('tokentap_time_to_first_token_seconds', 'ttft', ['model', 'endpoint'], TTFT_BUCKETS, reg);
  const requests = new FastCounter('tokentap_requests_total', 'requests', ['model', 'endpoint', 'code'], reg);
  for (let m = 0; m < 2000; m++) {
    for (const endpoint of ['chat_completions', 'completions']) {
      const model = `flooded-model-name-${m}`;
      ttft.labels(model, endpoint).observe((m % 97) / 10);
      for (let code = 200; code < 210; code++) requests.labels(model, endpoint, String(code)).inc(m);
    }
  }
  return [ttft, requests];
}

/**
 * Four scrapers in another process (parsing megabytes of responses here would load the loop being measured):
 * on each line "go" they GET /metrics at once, each on its own connection, and print the bodies' sha256.
 */
const SCRAPERS = `
const http = require('node:http');
const crypto = require('node:crypto');
const url = process.argv[1];
const scrape = () => new Promise((resolve, reject) => {
  http.get(url + '/metrics', { agent: false }, (res) => {
    const hash = crypto.createHash('sha256');
    res.on('data', (c) => hash.update(c));
    res.on('end', () => resolve(res.statusCode + ' ' + hash.digest('hex')));
  }).on('error', reject);
});
require('node:readline').createInterface({ input: process.stdin }).on('line', async () => {
  console.log(JSON.stringify(await Promise.all([scrape(), scrape(), scrape(), scrape()])));
});
console.log('ready');
`;

/** This thread's CPU time, in ms: unlike the wall clock, it does not advance while the OS runs something else. */
const cpuMs = () => {
  const { user, system } = process.threadCpuUsage();
  return (user + system) / 1000;
};

/**
 * Ticks a 1 ms interval and records the longest time between two ticks that this thread spent working: the
 * least of the wall-clock gap and the thread's CPU time in it. A loaded machine can deschedule the process for
 * longer than any render (the wall clock counts that, CPU time not), and the CPU clock's accounting can jump
 * by a millisecond or two (the wall clock does not).
 */
function loopBusy() {
  let [lastWall, lastCpu] = [performance.now(), cpuMs()];
  let max = 0;
  const timer = setInterval(() => {
    const [wall, cpu] = [performance.now(), cpuMs()];
    max = Math.max(max, Math.min(wall - lastWall, cpu - lastCpu));
    [lastWall, lastCpu] = [wall, cpu];
  }, 1);
  return {
    stop: () => {
      clearInterval(timer);
      return max;
    },
  };
}

describe('scraping a flood of series', () => {
  it('4 concurrent scrapes: one rendering, and the event loop never waits for more than a slice of it', async () => {
    const fast = flood();
    let renders = 0;
    const exposition = () => {
      renders++;
      return renderExposition(fast);
    };
    const config = validateConfig({ metrics_host: '127.0.0.1', metrics_port: 0 });
    server = await startMetricsServer(config, exposition, 'text/plain', async () => true);

    // What the metrics port did before: the whole text in one synchronous pass, a stall of this long (CPU time).
    const t0 = cpuMs();
    const expected = `${fast.map((m) => m.exposition()).join('\n\n')}\n`;
    const syncMs = cpuMs() - t0;
    expect(expected.length).toBeGreaterThan(14_000_000);
    expect((await exposition()).join('')).toBe(expected); // sliced, and still the same bytes
    const sha = createHash('sha256').update(expected).digest('hex');

    scrapers = spawn(process.execPath, ['-e', SCRAPERS, server.url]);
    const lines = createInterface({ input: scrapers.stdout })[Symbol.asyncIterator]();
    expect((await lines.next()).value).toBe('ready');

    // A round passes when no stretch of work between two ticks reaches a third of the synchronous pass (a few
    // ms are seen: slices of SLICE_MS, and GC pauses). One passing round of three is enough, as a major GC of
    // this test's own heap can land in one. The old synchronous render passes none: every round holds one
    // whole pass between two ticks (47 to 170 ms seen, against a bound of 14).
    const rounds: { maxBusyMs: number; renders: number }[] = [];
    for (let round = 0; round < 3; round++) {
      renders = 0;
      const busy = loopBusy();
      scrapers.stdin.write('go\n');
      const answers = JSON.parse((await lines.next()).value as string) as string[];
      const maxBusyMs = busy.stop();
      expect(answers).toEqual(Array(4).fill(`200 ${sha}`));
      rounds.push({ maxBusyMs, renders });
      if (maxBusyMs < syncMs / 3) break;
    }
    const report = JSON.stringify({ syncMs, rounds });
    expect(rounds.every((r) => r.renders === 1), report).toBe(true);
    expect(Math.min(...rounds.map((r) => r.maxBusyMs)), report).toBeLessThan(syncMs / 3);
  });
});
