/**
 * One bench request: build the body, send it with undici, time every SSE event.
 * Token-event classification is the proxy's own (`src/meter/sse-event.ts`), so the
 * client-side figures follow the same definitions as tokentap's.
 */
import { performance } from 'node:perf_hooks';
import { request, type Dispatcher } from 'undici';
import { createParser } from 'eventsource-parser';
import { inspectEvent } from '../meter/sse-event.js';
import { readUsage } from '../meter/usage.js';
import { errorCode, requestFailed } from './net-errors.js';
import type { BenchEndpoint, RequestRecord } from './types.js';

export interface RequestSpec {
  index: number;
  requestId: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  stream: boolean;
  requestedPromptTokens: number;
  requestedMaxTokens: number;
  /** Called once, when the first token event arrives (the overhead benchmark's open-stream count). */
  onFirstToken?: () => void;
}

const PATHS: Record<BenchEndpoint, string> = {
  chat: '/chat/completions',
  completions: '/completions',
  responses: '/responses',
};

/** `http://h:p/v1` + endpoint → full URL (tolerates a trailing slash). */
export function endpointUrl(target: string, endpoint: BenchEndpoint): string {
  return target.replace(/\/+$/, '') + PATHS[endpoint];
}

export interface BodyParams {
  endpoint: BenchEndpoint;
  model: string;
  prompt: string;
  maxTokens: number;
  stream: boolean;
  extraBody?: Record<string, unknown>;
}

/** The JSON body for the endpoint; streaming requests ask for usage (`include_usage`). */
export function buildBody(p: BodyParams): Record<string, unknown> {
  let body: Record<string, unknown>;
  switch (p.endpoint) {
    case 'chat':
      body = { model: p.model, messages: [{ role: 'user', content: p.prompt }], max_tokens: p.maxTokens };
      break;
    case 'completions':
      body = { model: p.model, prompt: p.prompt, max_tokens: p.maxTokens };
      break;
    case 'responses':
      body = { model: p.model, input: p.prompt, max_output_tokens: p.maxTokens };
      break;
  }
  body.stream = p.stream;
  if (p.stream && p.endpoint !== 'responses') body.stream_options = { include_usage: true };
  return { ...body, ...p.extraBody };
}

/** Mutable per-request timing state, fed one SSE event at a time. */
export class StreamTimer {
  firstToken: number | null = null;
  firstContent: number | null = null;
  lastToken: number | null = null;
  tokenEvents = 0;
  sseEvents = 0;
  itl: number[] = [];
  promptTokens: number | null = null;
  completionTokens: number | null = null;
  inBandError: string | null = null;
  finished = false;

  onEvent(eventName: string | undefined, data: string, now: number): void {
    this.sseEvents++;
    const f = inspectEvent(eventName, data);
    if (f.done) this.finished = true;
    if (f.token) {
      if (this.lastToken !== null) this.itl.push(now - this.lastToken);
      else this.firstToken = now;
      this.lastToken = now;
      this.tokenEvents++;
    }
    if (f.content && this.firstContent === null) this.firstContent = now;
    if (f.usage) {
      if (f.usage.prompt !== null) this.promptTokens = f.usage.prompt;
      if (f.usage.completion !== null) this.completionTokens = f.usage.completion;
    }
    if (f.error && this.inBandError === null) this.inBandError = data.slice(0, 300);
    const type = eventName ?? '';
    if (
      type === 'response.completed' ||
      type === 'response.incomplete' ||
      data.includes('"type":"response.completed"') ||
      data.includes('"type":"response.incomplete"')
    ) {
      this.finished = true;
    }
  }
}

function errorCategory(err: unknown, signal: AbortSignal): string {
  const e = err as { name?: string; code?: string };
  if (signal.aborted) return signal.reason instanceof Error && signal.reason.name === 'TimeoutError' ? 'timeout' : 'aborted';
  if (e?.name === 'TimeoutError' || e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT') return 'timeout';
  return errorCode(err) ?? e?.name ?? 'error';
}

/** Sends one request and measures it. Never throws: failures are recorded on the record. */
export async function sendRequest(
  spec: RequestSpec,
  dispatcher: Dispatcher,
  runStart: number,
  signal: AbortSignal,
): Promise<RequestRecord> {
  const rec: RequestRecord = {
    index: spec.index,
    requestId: spec.requestId,
    responseRequestId: null,
    startMs: 0,
    status: null,
    ok: false,
    error: null,
    errorMessage: null,
    stream: spec.stream,
    ttftMs: null,
    ttfcMs: null,
    tpotMs: null,
    e2eMs: null,
    itlMs: [],
    promptTokens: null,
    completionTokens: null,
    usage: null,
    tokenEvents: 0,
    sseEvents: 0,
    requestedPromptTokens: spec.requestedPromptTokens,
    requestedMaxTokens: spec.requestedMaxTokens,
  };
  const timer = new StreamTimer();
  const t0 = performance.now();
  rec.startMs = t0 - runStart;
  let lastByte = t0;
  try {
    const res = await request(spec.url, {
      method: 'POST',
      headers: { ...spec.headers, 'x-request-id': spec.requestId },
      body: spec.body,
      dispatcher,
      signal,
    });
    rec.status = res.statusCode;
    const rid = res.headers['x-request-id'];
    rec.responseRequestId = Array.isArray(rid) ? (rid[0] ?? null) : (rid ?? null);
    const decoder = new TextDecoder();
    if (res.statusCode >= 400 || !spec.stream) {
      let text = '';
      for await (const chunk of res.body) {
        lastByte = performance.now();
        text += decoder.decode(chunk as Uint8Array, { stream: true });
      }
      text += decoder.decode();
      rec.e2eMs = lastByte - t0;
      if (res.statusCode >= 400) {
        rec.error = `HTTP ${res.statusCode}`;
        rec.errorMessage = text.slice(0, 300);
        return rec;
      }
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(text);
      } catch {
        rec.error = 'invalid_json';
        rec.errorMessage = text.slice(0, 300);
        return rec;
      }
      const usage = readUsage((parsed as { usage?: unknown } | null)?.usage);
      if (usage) {
        rec.promptTokens = usage.prompt;
        rec.completionTokens = usage.completion;
        rec.usage = 'reported';
      }
      rec.ok = true;
      return rec;
    }
    let now = t0;
    let notified = false;
    const parser = createParser({ onEvent: (ev) => timer.onEvent(ev.event, ev.data, now) });
    for await (const chunk of res.body) {
      now = performance.now();
      lastByte = now;
      parser.feed(decoder.decode(chunk as Uint8Array, { stream: true }));
      if (spec.onFirstToken && timer.firstToken !== null && !notified) {
        notified = true;
        spec.onFirstToken();
      }
    }
    parser.feed(decoder.decode());
    parser.reset({ consume: true });
    rec.e2eMs = lastByte - t0;
    if (timer.inBandError !== null) {
      rec.error = 'stream_error';
      rec.errorMessage = timer.inBandError;
    } else if (!timer.finished) {
      rec.error = 'incomplete_stream';
      rec.errorMessage = 'stream ended without [DONE] / response.completed';
    }
  } catch (err) {
    rec.e2eMs = null;
    rec.error = errorCategory(err, signal);
    rec.errorMessage = requestFailed('POST', spec.url, err).slice(0, 300);
  }
  finishStreaming(rec, timer, t0);
  return rec;
}

function finishStreaming(rec: RequestRecord, timer: StreamTimer, t0: number): void {
  rec.sseEvents = timer.sseEvents;
  rec.tokenEvents = timer.tokenEvents;
  rec.itlMs = timer.itl;
  if (timer.firstToken !== null) rec.ttftMs = timer.firstToken - t0;
  if (timer.firstContent !== null) rec.ttfcMs = timer.firstContent - t0;
  rec.promptTokens = timer.promptTokens;
  if (timer.completionTokens !== null) {
    rec.completionTokens = timer.completionTokens;
    rec.usage = 'reported';
  } else if (rec.status !== null && rec.status < 400) {
    rec.completionTokens = timer.tokenEvents;
    rec.usage = 'estimated';
  }
  const n = rec.completionTokens;
  if (n !== null && n >= 2 && timer.firstToken !== null && timer.lastToken !== null) {
    rec.tpotMs = (timer.lastToken - timer.firstToken) / (n - 1);
  }
  rec.ok = rec.error === null;
}
