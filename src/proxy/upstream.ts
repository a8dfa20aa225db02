/** The upstream: one pooled undici dispatcher, error classification, and a reachability probe. */
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import type { Pool as UndiciPool } from 'undici';
import type { Outcome } from '../metrics/metrics.js';
import { upstreamHeadersTimeout, upstreamUnreachable, type ProxyErrorSpec } from './errors.js';

/**
 * undici's Pool from its own module: the package entry point also loads fetch, WebSocket, the cache and
 * mock layers, which tokentap never uses (about 13 MB of RSS in every proxy process).
 */
const Pool = createRequire(import.meta.url)('undici/lib/dispatcher/pool.js') as typeof UndiciPool;

export interface UpstreamOptions {
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  idleTimeoutMs: number;
}

export interface Upstream {
  /** scheme://host:port, no credentials. */
  origin: string;
  /** Path prefix of the upstream URL without a trailing slash or /v1 ('' for the root). */
  basePath: string;
  dispatcher: UndiciPool;
  /** Can a TCP connection be opened to the upstream (within the last PROBE_REUSE_MS)? See `sharedProbe`. */
  probe(): Promise<boolean>;
  close(): Promise<void>;
}

export function createUpstream(url: string, opts: UpstreamOptions): Upstream {
  const u = new URL(url);
  const origin = `${u.protocol}//${u.host}`;
  const basePath = u.pathname.replace(/\/+$/, '').replace(/\/v1$/, '');
  const dispatcher = new Pool(origin, {
    connectTimeout: opts.connectTimeoutMs,
    headersTimeout: opts.headersTimeoutMs,
    bodyTimeout: opts.idleTimeoutMs,
    keepAliveTimeout: 30_000,
  });
  return {
    origin,
    basePath,
    dispatcher,
    probe: sharedProbe(url),
    close: () => dispatcher.close(),
  };
}

/** How long a probe's answer is reused. /readyz (load balancers) and tokentap_upstream_up (scrapers) may be
 * asked many times a second, and each fresh probe is a TCP connection to the upstream that leaves a socket in
 * TIME_WAIT (4,500 calls/s left 10,000 of them); readiness a second old is as good. */
export const PROBE_REUSE_MS = 1000;
/** A probe that has not connected by then answers false. */
const PROBE_TIMEOUT_MS = 1000;

/**
 * probeUpstream(url), shared: concurrent callers share one connection attempt, and its answer is reused for
 * PROBE_REUSE_MS after it settled. At most one probe connection per second, however many callers.
 */
export function sharedProbe(url: string): () => Promise<boolean> {
  let current: Promise<boolean> | null = null;
  let settledAt: number | null = null; // null while the probe is in flight
  return () => {
    if (current === null || (settledAt !== null && performance.now() - settledAt >= PROBE_REUSE_MS)) {
      settledAt = null;
      current = probeUpstream(url).then((ok) => {
        settledAt = performance.now();
        return ok;
      });
    }
    return current;
  };
}

/** Can a TCP connection be opened to the upstream at `url` now? (use sharedProbe: readiness, tokentap_upstream_up) */
export function probeUpstream(url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  const u = new URL(url);
  const port = Number(u.port) || (u.protocol === 'https:' ? 443 : 80);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

const UNREACHABLE_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
  UND_ERR_SOCKET: 'connection closed before a response',
  UND_ERR_CLOSED: 'connection closed',
  UND_ERR_CONNECT_TIMEOUT: 'connect timeout (upstream_connect_timeout)',
};

function errorCode(err: unknown): string | undefined {
  let e = err as { code?: string; cause?: unknown; errors?: unknown[] } | undefined;
  for (let depth = 0; e && depth < 4; depth++) {
    if (typeof e.code === 'string') return e.code;
    if (Array.isArray(e.errors) && e.errors.length > 0) e = e.errors[0] as typeof e;
    else e = e.cause as typeof e;
  }
  return undefined;
}

/** How a failed upstream request (no response headers) is answered and counted. */
export function classifyUpstreamError(err: unknown, headersTimeoutMs: number): { outcome: Outcome; spec: ProxyErrorSpec } {
  const code = errorCode(err);
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return { outcome: 'timeout', spec: upstreamHeadersTimeout(headersTimeoutMs) };
  const known = code === undefined ? undefined : UNREACHABLE_CODES[code];
  const cause = known !== undefined ? `${known} (${code})` : code !== undefined ? `request failed (${code})` : 'request failed';
  return { outcome: 'unreachable', spec: upstreamUnreachable(cause) };
}

export function isBodyTimeout(err: unknown): boolean {
  return errorCode(err) === 'UND_ERR_BODY_TIMEOUT';
}
