/**
 * `tokentap sim`: a vLLM-compatible simulated LLM server on plain node:http,
 * with exact, deterministic token accounting, honest TTFT/ITL timing and
 * injectable faults. Started in-process by tests via startSimulator().
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { EventEmitter, once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { handleChat } from './chat.js';
import { handleCompletions } from './completions.js';
import { handleEmbeddings } from './embeddings.js';
import { BadRequest, sendError, type ReqCtx } from './http.js';
import { handleHealth, handleModels, handleTokenize, handleVersion } from './info.js';
import {
  HTTP_FAULT_STATUS,
  OverrideError,
  SIM_HEADERS,
  mulberry32,
  readOverrides,
  resolveSimOptions,
  type RequestOverrides,
  type ResolvedSimOptions,
  type SimOptions,
} from './options.js';
import { handleResponses } from './responses.js';
import { Scheduler } from './scheduler.js';
import { waitForAbort } from './sse.js';

export type { SimOptions } from './options.js';

export interface SimStats {
  /** Requests received (any path). */
  requests: number;
  /** Requests whose response has not closed yet. */
  active: number;
  /** Responses that finished normally (including error statuses and in-band errors). */
  completed: number;
  /** Responses cut short because the client went away (or close() ended them). */
  aborted: number;
  /** Responses cut short by the `die` fault. */
  died: number;
  /** Times a write hit back-pressure (res.write() returned false). */
  backpressure: number;
  openConnections(): Promise<number>;
}

export interface RunningSim {
  url: string;
  port: number;
  server: Server;
  stats: SimStats;
  /**
   * 'request' {id, method, path, headers} once the request body is read;
   * 'abort' {id, at} when the client goes away mid-response (at = performance.now());
   * 'end' {id, outcome: 'completed' | 'aborted' | 'died'} when the response closes;
   * 'backpressure' {id, at} / 'drain' {id, at} around a blocked write.
   */
  events: EventEmitter;
  lastRequestBody(): string | undefined;
  lastRequestHeaders(): IncomingHttpHeaders | undefined;
  options: ResolvedSimOptions;
  /** The simulated engine: batch slots (maxNumSeqs), waiting queue, KV usage and the vLLM metrics it serves on /metrics. */
  scheduler: Scheduler;
  close(): Promise<void>;
}

type Handler = (ctx: ReqCtx) => Promise<void> | void;
interface Route {
  method: 'GET' | 'POST';
  handler: Handler;
  /** Generation endpoint: x-sim-* overrides and faults apply. */
  generates?: boolean;
}

const MAX_BODY_BYTES = 64 * 1024 * 1024;

export async function startSimulator(opts: SimOptions = {}): Promise<RunningSim> {
  const o = resolveSimOptions(opts);
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const rand = mulberry32(o.seed);
  const sockets = new Set<Socket>();
  const live = new Map<number, AbortController>();
  const scheduler = new Scheduler(o.maxNumSeqs, o.kvCacheTokens, o.model, o.maxModelLen);
  const engines = new Map<number, ReturnType<Scheduler['request']>>();
  let nextId = 0;
  let lastBody: string | undefined;
  let lastHeaders: IncomingHttpHeaders | undefined;
  let closing: Promise<void> | undefined;

  const routes: Record<string, Route> = {
    '/v1/chat/completions': { method: 'POST', handler: handleChat, generates: true },
    '/v1/completions': { method: 'POST', handler: handleCompletions, generates: true },
    '/v1/responses': { method: 'POST', handler: handleResponses, generates: true },
    '/v1/embeddings': { method: 'POST', handler: handleEmbeddings, generates: true },
    '/v1/models': { method: 'GET', handler: (ctx) => handleModels(ctx.res, o) },
    '/health': { method: 'GET', handler: (ctx) => handleHealth(ctx.res) },
    '/version': { method: 'GET', handler: (ctx) => handleVersion(ctx.res) },
    '/metrics': { method: 'GET', handler: (ctx) => serveMetrics(ctx) },
    '/tokenize': { method: 'POST', handler: handleTokenize },
  };

  const server = createServer();
  const stats: SimStats = {
    requests: 0,
    active: 0,
    completed: 0,
    aborted: 0,
    died: 0,
    backpressure: 0,
    openConnections: () => new Promise((resolve) => server.getConnections((err, n) => resolve(err ? 0 : n))),
  };
  events.on('backpressure', () => stats.backpressure++);

  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const id = ++nextId;
    const controller = new AbortController();
    let died = false;
    stats.requests++;
    stats.active++;
    live.set(id, controller);
    res.on('error', () => {});
    res.on('close', () => {
      live.delete(id);
      stats.active--;
      let outcome: 'completed' | 'aborted' | 'died';
      if (res.writableFinished) {
        stats.completed++;
        outcome = 'completed';
      } else if (died) {
        stats.died++;
        outcome = 'died';
      } else {
        stats.aborted++;
        outcome = 'aborted';
        events.emit('abort', { id, at: performance.now() });
      }
      controller.abort();
      // After abort(): a request still waiting has left the queue; a running one frees its batch slot.
      engines.get(id)?.abort();
      engines.delete(id);
      events.emit('end', { id, outcome });
    });
    const die = (): void => {
      died = true;
      res.socket?.destroy();
    };
    void serve(id, req, res, controller.signal, die).catch(() => {
      if (!res.headersSent) sendError(res, 500, 'Internal simulator error');
      else res.destroy();
    });
  });

  async function serve(id: number, req: IncomingMessage, res: ServerResponse, signal: AbortSignal, die: () => void): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const c of req as AsyncIterable<Buffer>) {
        size += c.length;
        if (size > MAX_BODY_BYTES) return sendError(res, 413, 'Request body too large', null, { connection: 'close' });
        chunks.push(c);
      }
    } catch {
      return; // client went away while sending the body
    }
    const t0 = performance.now();
    const text = Buffer.concat(chunks).toString('utf8');
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    lastBody = text;
    lastHeaders = req.headers;
    events.emit('request', { id, method: req.method, path, headers: req.headers });
    if (signal.aborted) return;

    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (!route) return sendError(res, 404, 'Not Found', null, {}, 'Not Found');
    if (req.method !== route.method) return sendError(res, 405, 'Method Not Allowed');

    let body: unknown;
    if (route.method === 'POST') {
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        // No parser detail: it would echo part of the (prompt) body back.
        return sendError(res, 400, 'JSON decode error: the request body is not valid JSON');
      }
    }
    let ov: RequestOverrides;
    try {
      // x-sim-* headers only shape generation endpoints.
      ov = readOverrides(route.generates ? req.headers : {}, o);
    } catch (e) {
      if (e instanceof OverrideError) return sendError(res, 400, e.message, e.param);
      throw e;
    }
    if (route.generates) {
      pickRandomFault(ov, req.headers);
      const status = ov.fault ? HTTP_FAULT_STATUS[ov.fault] : undefined;
      if (status !== undefined) {
        const msg = `Simulated HTTP ${status} (tokentap sim fault ${ov.fault})`;
        return sendError(res, status, msg, null, status === 429 ? { 'retry-after': '1' } : {});
      }
      if (ov.fault === 'no-headers') return waitForAbort(signal);
    }
    const engine = scheduler.request(t0);
    engines.set(id, engine);
    if (signal.aborted) engine.abort(); // 'close' already ran
    const ctx: ReqCtx = { id, t0, req, res, signal, opts: o, ov, events, body, die, engine };
    try {
      await route.handler(ctx);
    } catch (e) {
      if (e instanceof BadRequest && !res.headersSent) return sendError(res, 400, e.message, e.param);
      throw e;
    }
  }

  async function serveMetrics(ctx: ReqCtx): Promise<void> {
    const text = await scheduler.metrics.registry.metrics();
    if (ctx.res.headersSent || ctx.res.destroyed) return;
    ctx.res.writeHead(200, { 'content-type': scheduler.metrics.registry.contentType, 'content-length': Buffer.byteLength(text) });
    ctx.res.end(text);
  }

  function pickRandomFault(ov: RequestOverrides, headers: IncomingHttpHeaders): void {
    if (ov.fault || o.errorRate <= 0 || o.faults.length === 0) return;
    if (rand() >= o.errorRate) return;
    ov.fault = o.faults[Math.floor(rand() * o.faults.length)];
    if (headers[SIM_HEADERS.faultAfter] === undefined) ov.faultAfter = Math.floor(rand() * 4);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://${urlHost(o.host)}:${port}`,
    port,
    server,
    stats,
    events,
    options: o,
    scheduler,
    lastRequestBody: () => lastBody,
    lastRequestHeaders: () => lastHeaders,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const c of live.values()) c.abort();
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
        await closed;
        // Let every in-flight response run its 'close' accounting before resolving.
        while (live.size > 0) await once(events, 'end');
      })();
      return closing;
    },
  };
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
