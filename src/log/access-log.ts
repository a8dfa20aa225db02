/** The access log: one JSON line per request, to stdout, a file, or nowhere. Never prompt or completion text. */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { FinishedRequest } from '../metrics/metrics.js';

export interface AccessLogEntry {
  ts: string;
  request_id: string;
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
}

const round = (v: number | null): number | null => (v === null ? null : Math.round(v * 1000) / 1000);

export function accessLogEntry(requestId: string, method: string, r: FinishedRequest, now = new Date()): AccessLogEntry {
  const rec = r.record;
  return {
    ts: now.toISOString(),
    request_id: requestId,
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
  };
}

export interface AccessLog {
  /** False when the log is off (callers skip building entries). */
  readonly enabled: boolean;
  write(entry: AccessLogEntry): void;
  close(): Promise<void>;
}

/** `-` = stdout, `off` = disabled, anything else = a file path (appended). */
export function openAccessLog(destination: string): AccessLog {
  if (destination === 'off') return { enabled: false, write() {}, close: async () => {} };
  if (destination === '-') {
    return { enabled: true, write: (e) => void process.stdout.write(JSON.stringify(e) + '\n'), close: async () => {} };
  }
  const file: WriteStream = createWriteStream(destination, { flags: 'a' });
  file.on('error', (err) => console.error(`tokentap: access log ${destination}: ${err.message}`));
  return {
    enabled: true,
    write: (e) => void file.write(JSON.stringify(e) + '\n'),
    close: () => new Promise((resolve) => file.end(resolve)),
  };
}
