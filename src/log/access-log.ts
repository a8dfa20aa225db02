/** The access log: one JSON line per request, to stdout, a file, or nowhere. Never prompt or completion text. */
import { closeSync, openSync } from 'node:fs';
import sonicBoom from 'sonic-boom';
import { ConfigError } from '../config/load.js';
import type { FinishedRequest } from '../metrics/metrics.js';

export interface AccessLogEntry {
  ts: string;
  request_id: string;
  /** The upstream's x-request-id (e.g. OpenAI's `req_…`), null when it sent none. */
  upstream_request_id: string | null;
  method: string;
  model: string;
  endpoint: string;
  stream: boolean;
  status: number;
  outcome: string;
  ttft_ms: number | null;
  ttfc_ms: number | null;
  tpot_ms: number | null;
  e2e_ms: number;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  cached_tokens: number | null;
  reasoning_tokens: number | null;
  usage: 'reported' | 'estimated' | null;
  /** The request's user (docs/attribution.md), hashed with hash_user_ids; null when none or attribution is off. */
  user: string | null;
  /** The id of the request's API key (a keyed hash, never the key); null without key_id_secret or a key. */
  key_id: string | null;
  /** The request's cost in `currency`, rounded to 1e-9; null when unpriced or not metered for tokens. */
  cost: number | null;
  /** The trace id when tracing sampled the request, else null. */
  trace_id: string | null;
}

const round = (v: number | null): number | null => (v === null ? null : Math.round(v * 1000) / 1000);
const roundCost = (v: number | null | undefined): number | null => (v == null ? null : Math.round(v * 1e9) / 1e9);

/** The current time in ISO 8601, formatted once per millisecond (many requests end in the same one). */
let lastMs = -1;
let lastIso = '';
function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

export function accessLogEntry(requestId: string, method: string, r: FinishedRequest, ts = isoNow()): AccessLogEntry {
  const rec = r.record;
  return {
    ts,
    request_id: requestId,
    upstream_request_id: r.upstreamRequestId ?? null,
    method,
    model: r.model,
    endpoint: r.endpoint,
    stream: r.stream,
    status: r.code,
    outcome: r.outcome,
    ttft_ms: round(rec.ttftMs),
    ttfc_ms: round(rec.ttfcMs),
    tpot_ms: round(rec.tpotMs),
    e2e_ms: round(rec.e2eMs) as number,
    prompt_tokens: rec.promptTokens,
    completion_tokens: rec.completionTokens,
    cached_tokens: rec.cachedTokens,
    reasoning_tokens: rec.reasoningTokens,
    usage: rec.usage,
    user: r.user ?? null,
    key_id: r.keyId ?? null,
    cost: roundCost(r.cost),
    trace_id: r.traceId ?? null,
  };
}

export interface AccessLog {
  /** False when the log is off (callers skip building entries). */
  readonly enabled: boolean;
  write(entry: AccessLogEntry): void;
  close(): Promise<void>;
}

/** Lines are written in batches of about this many bytes (one syscall for dozens of requests)… */
const BATCH_BYTES = 16 * 1024;
/** …and at least this often (ms) when traffic is light, like nginx's `access_log … buffer= flush=`. */
const FLUSH_MS = 200;

const OPEN_ERRORS: Record<string, string> = {
  ENOENT: 'its directory does not exist',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'it is a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
};

/**
 * Opens the access log file for appending, synchronously: a path that cannot be written (a missing
 * directory, a directory) is a ConfigError before anything listens, not an asynchronous crash later.
 */
function openForAppend(path: string): number {
  try {
    return openSync(path, 'a');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    const why = OPEN_ERRORS[code] ? `${OPEN_ERRORS[code]} (${code})` : code;
    throw new ConfigError(`access_log (--log, TOKENTAP_LOG): cannot append to ${path}: ${why}`);
  }
}

/** Throws a ConfigError if `destination` (a file path, not - or off) cannot be opened for appending. */
export function checkAccessLog(destination: string): void {
  if (destination !== 'off' && destination !== '-') closeSync(openForAppend(destination));
}

/** `-` = stdout, `off` = disabled, anything else = a file path (appended; a ConfigError if it cannot be). */
export function openAccessLog(destination: string): AccessLog {
  if (destination === 'off') return { enabled: false, write() {}, close: async () => {} };
  // sonic-boom: buffered, asynchronous writes to a file or fd (pino's writer), instead of one write
  // through the thread pool (file) or one blocking write (stdout pipe) per request. The file is opened
  // here, synchronously (sonic-boom would open it asynchronously and fail after tokentap is listening).
  const out = new sonicBoom.SonicBoom({
    fd: destination === '-' ? 1 : openForAppend(destination),
    append: true,
    minLength: BATCH_BYTES,
    maxWrite: 4 * BATCH_BYTES,
    periodicFlush: FLUSH_MS,
    // Buffer mode queues each line as its own buffer; string mode appends to one growing string and
    // measures its UTF-8 length on every write (quadratic in the batch size).
    contentMode: 'buffer',
  });
  out.on('error', (err: Error) => console.error(`tokentap: access log ${destination}: ${err.message}`));
  let closed: Promise<void> | null = null;
  return {
    enabled: true,
    // (sonic-boom's types only declare write(string); in buffer mode it takes Buffers)
    write: (e) => void out.write(Buffer.from(JSON.stringify(e) + '\n') as unknown as string),
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        out.once('close', () => resolve());
        out.end();
      })),
  };
}
