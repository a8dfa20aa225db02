/**
 * Per-request context shared by the endpoint handlers, plus JSON / vLLM-style
 * error responses.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventEmitter } from 'node:events';
import type { RequestOverrides, ResolvedSimOptions, SimFlavor } from './options.js';
import type { EngineRequest } from './scheduler.js';

export interface ReqCtx {
  id: number;
  /** performance.now() when the request (headers and body) was received. */
  t0: number;
  req: IncomingMessage;
  res: ServerResponse;
  /** Aborted when the client goes away or the simulator closes. */
  signal: AbortSignal;
  opts: ResolvedSimOptions;
  ov: RequestOverrides;
  events: EventEmitter;
  /** Parsed JSON body (undefined for requests without one). */
  body: unknown;
  /** The `die` fault: destroy the socket without terminating the response. */
  die(): void;
  /**
   * This request in the simulated engine (queueing, vLLM metrics). Generation handlers call engine.plan();
   * runSlots / holdNonStreaming then wait for a batch slot and time the tokens from the scheduled time.
   */
  engine: EngineRequest;
}

/** vLLM ErrorResponse: {"error": {"message", "type", "param", "code"}}. */
export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: number };
}

/** Error `type` strings as vLLM's create_error_response / http_exception_handler use them. */
const ERROR_TYPES: Record<number, string> = {
  400: 'BadRequestError',
  404: 'NotFoundError',
  405: 'Method Not Allowed',
  429: 'RateLimitError',
  500: 'InternalServerError',
  501: 'NotImplementedError',
  503: 'ServiceUnavailableError',
};

export function errorBody(status: number, message: string, param: string | null = null, type?: string): ErrorBody {
  return { error: { message, type: type ?? ERROR_TYPES[status] ?? 'InternalServerError', param, code: status } };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  param: string | null = null,
  headers: Record<string, string> = {},
  type?: string,
): void {
  sendJson(res, status, errorBody(status, message, param, type), headers);
}

/** Thrown by request validation; answered with a 400 BadRequestError. */
export class BadRequest extends Error {
  constructor(
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

export function hexId(): string {
  return randomUUID().replaceAll('-', '');
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** The request's model (any name is accepted and echoed), else the configured one. */
export function requestModel(body: Record<string, unknown>, opts: ResolvedSimOptions): string {
  return typeof body.model === 'string' && body.model !== '' ? body.model : opts.model;
}

export function asObject(body: unknown): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new BadRequest('Request body must be a JSON object');
  return body as Record<string, unknown>;
}

/** Optional positive-integer limit field (max_tokens etc.). */
export function optionalLimit(body: Record<string, unknown>, ...names: string[]): number | undefined {
  for (const name of names) {
    const v = body[name];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new BadRequest(`${name} must be at least 1, got ${String(v)}.`, name);
    }
    return v;
  }
  return undefined;
}

export interface StreamFlags {
  stream: boolean;
  /** A final `choices: []` chunk carries the usage. */
  includeUsage: boolean;
  /** Every chunk carries the usage so far (vLLM's continuous_usage_stats). */
  continuousUsage: boolean;
  /** Every chunk before the usage chunk ends with `"usage": null` (OpenAI with include_usage). */
  usageNull: boolean;
}

/**
 * `stream` / `stream_options` as the flavor reads them. vLLM's StreamOptions defaults include_usage to true, so
 * `stream_options: {}` asks for usage there, and its chunks have no usage member (exclude_unset). OpenAI asks
 * for usage only with `include_usage: true` and then ends every chunk with `"usage": null`; it has no
 * continuous_usage_stats, so that member is ignored. An explicit `include_usage: null` is false for both.
 */
export function streamFlags(body: Record<string, unknown>, flavor: SimFlavor = 'vllm'): StreamFlags {
  const stream = body.stream === true;
  const so = body.stream_options;
  if (so !== undefined && so !== null) {
    if (typeof so !== 'object' || Array.isArray(so)) throw new BadRequest('stream_options must be an object', 'stream_options');
    if (!stream) throw new BadRequest('Stream options can only be defined when `stream=True`.', 'stream_options');
    const o = so as { include_usage?: unknown; continuous_usage_stats?: unknown };
    if (flavor === 'openai') {
      const includeUsage = o.include_usage === true;
      return { stream, includeUsage, continuousUsage: false, usageNull: includeUsage };
    }
    const includeUsage = o.include_usage === undefined || o.include_usage === true;
    return { stream, includeUsage, continuousUsage: includeUsage && o.continuous_usage_stats === true, usageNull: false };
  }
  return { stream, includeUsage: false, continuousUsage: false, usageNull: false };
}
