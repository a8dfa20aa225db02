/**
 * The hostile-input suite's harness: tokentap on port 0 in front of the simulator (or a hand-written hostile
 * upstream), a raw-socket client, and the invariants every hostile test ends with: tokentap still serves,
 * requests_in_flight is back to 0, requests_total moved by exactly the requests sent, one access-log line
 * per request, and the process's open file descriptors back to their baseline.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { expect } from 'vitest';
import type { RunningTokentap } from '../../src/server.js';
import { startSimulator, type RunningSim } from '../../src/sim/server.js';
import { metricSum } from '../helpers/prom.js';
import { readLogLines } from '../helpers/stack.js';
import { startTap } from '../helpers/tap.js';
import { eventually } from '../helpers/wait.js';

export { eventually, metricSum };

export const openFds = (): number => readdirSync('/proc/self/fd').length;

/** This process's TCP sockets (inode → local and remote port), from /proc/net/tcp{,6}. */
function tcpSockets(): Map<string, { local: number; remote: number; listening: boolean }> {
  const out = new Map<string, { local: number; remote: number; listening: boolean }>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[9] === '0') continue;
      const port = (addr: string) => parseInt(addr.slice(addr.lastIndexOf(':') + 1), 16);
      out.set(f[9], { local: port(f[1]), remote: port(f[2]), listening: f[3] === '0A' });
    }
  }
  return out;
}

/**
 * Open fds of this process that are neither a connection between tokentap and its upstream (kept alive by
 * the pool, on purpose) nor one of the upstream server's side of those; client connections to the proxy
 * count, so after a test they must be gone.
 */
export function fdsExceptUpstreamPool(upstreamPort: number): number {
  const tcp = tcpSockets();
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    const m = /^socket:\[(\d+)\]$/.exec(target);
    const s = m === null ? undefined : tcp.get(m[1]);
    if (s !== undefined && !s.listening && (s.local === upstreamPort || s.remote === upstreamPort)) continue;
    n++;
  }
  return n;
}

export interface Hostile {
  tap: RunningTokentap;
  sim: RunningSim | null;
  logFile: string;
  /** Open fds with tokentap started (pooled upstream connections aside). */
  fdBaseline: number;
  metrics(): Promise<string>;
  logLines(): Record<string, unknown>[];
  /** An HTTP request to the proxy through the harness's agent (its connections are closed before fds are counted). */
  request(path: string, options?: Omit<NonNullable<Parameters<typeof request>[1]>, 'dispatcher'>): ReturnType<typeof request>;
  /** Opens a raw connection to the proxy. */
  socket(): Promise<Socket>;
  /** Sends bytes on a fresh connection; resolves with all the server sent before it closed (or `waitMs` passed). */
  raw(bytes: string | Buffer, waitMs?: number): Promise<string>;
  /**
   * The closing invariants: a normal request still gets 200 (counted too), in-flight 0, requests_total ==
   * `sent` + 1, one log line each, fds back to baseline (pooled upstream connections aside: the test's
   * client connections and tokentap's side of them must all be closed by then).
   */
  expectClean(sent: number): Promise<void>;
  close(): Promise<void>;
}

/** tokentap in front of `upstream` (a URL), or of a fresh simulator when none is given. */
export async function startHostile(tapOptions: Record<string, unknown> = {}, upstream?: string): Promise<Hostile> {
  const sim = upstream === undefined ? await startSimulator({ port: 0, ttftMs: 5, itlMs: 2, outputTokens: 8 }) : null;
  const logFile = join(mkdtempSync(join(tmpdir(), 'tokentap-hostile-')), 'access.log');
  const upstreamUrl = upstream ?? sim!.url;
  const upstreamPort = Number(new URL(upstreamUrl).port);
  const tap = await startTap(upstreamUrl, { access_log: logFile, ...tapOptions });
  await eventually(() => existsSync(logFile)); // sonic-boom opens the log asynchronously
  const fdBaseline = fdsExceptUpstreamPool(upstreamPort);
  const { hostname, port } = new URL(tap.proxyUrl);
  const socket = () =>
    new Promise<Socket>((resolve, reject) => {
      const s = connect(Number(port), hostname, () => resolve(s));
      s.on('error', reject);
    });
  const logLines = () => readLogLines(logFile);
  // The harness's own HTTP (scrapes, the serving check) goes through one agent, closed before fds are
  // counted, so its kept-alive connections do not count against tokentap.
  let agent = new Agent();
  let closed: Promise<void> | undefined;
  const metrics = async () => {
    const res = await request(`${tap.metricsUrl}/metrics`, { dispatcher: agent });
    return res.body.text();
  };
  return {
    tap,
    sim,
    logFile,
    fdBaseline,
    metrics,
    logLines,
    socket,
    request: (path, options) => request(`${tap.proxyUrl}${path}`, { ...options, dispatcher: agent }),
    raw: (bytes, waitMs = 5_000) =>
      new Promise((resolve) => {
        let got = '';
        const s = connect(Number(port), hostname, () => s.write(bytes));
        const timer = setTimeout(() => s.destroy(), waitMs);
        s.on('data', (d) => (got += d.toString('latin1')));
        s.on('error', () => {});
        s.on('close', () => {
          clearTimeout(timer);
          resolve(got);
        });
      }),
    async expectClean(sent) {
      const res = await request(`${tap.proxyUrl}/v1/models`, { dispatcher: agent });
      expect(res.statusCode).toBe(200);
      await res.body.text();
      const total = sent + 1;
      await eventually(async () => metricSum(await metrics(), 'tokentap_requests_total') === total, 10_000);
      const m = await metrics();
      expect(metricSum(m, 'tokentap_requests_total')).toBe(total);
      expect(metricSum(m, 'tokentap_requests_in_flight')).toBe(0);
      expect(tap.active.size).toBe(0);
      await eventually(() => logLines().length === total, 5_000);
      expect(logLines()).toHaveLength(total);
      await agent.close();
      agent = new Agent();
      await eventually(() => fdsExceptUpstreamPool(upstreamPort) <= fdBaseline, 15_000);
    },
    close: () =>
      (closed ??= (async () => {
        await agent.close();
        await tap.close();
        await sim?.close();
      })()),
  };
}

/** The largest gap (ms) between ticks of a 5 ms interval while `during` runs: how long the event loop stalled. */
export async function maxLoopStall<T>(during: () => Promise<T>): Promise<{ result: T; stallMs: number }> {
  let last = performance.now();
  let stallMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    stallMs = Math.max(stallMs, now - last - 5);
    last = now;
  }, 5);
  try {
    const result = await during();
    return { result, stallMs };
  } finally {
    clearInterval(timer);
  }
}

/** RSS growth (MB) while `during` runs, sampled every 20 ms (peak minus start). */
export async function rssGrowthMb<T>(during: () => Promise<T>): Promise<{ result: T; growthMb: number }> {
  const start = process.memoryUsage.rss();
  let peak = start;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  try {
    const result = await during();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, growthMb: (peak - start) / 1e6 };
  } finally {
    clearInterval(timer);
  }
}
