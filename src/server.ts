/** Starts tokentap: the proxy port, the metrics port, and a graceful close. The programmatic entry point. */
import { createAdaptorServer } from '@hono/node-server';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { validateConfig } from './config/load.js';
import type { Config, ConfigInput } from './config/schema.js';
import { openAccessLog } from './log/access-log.js';
import { createMetricsApp } from './metrics/app.js';
import { createMetrics, type Metrics } from './metrics/metrics.js';
import { ModelLabeler } from './metrics/model-label.js';
import { sendJsonError } from './proxy/answer.js';
import { handleClientError, handleConnect, newClientErrorState } from './proxy/client-errors.js';
import { expectationFailed } from './proxy/errors.js';
import { ActiveList } from './proxy/active-list.js';
import { proxyListener } from './proxy/listener.js';
import type { Exchange } from './proxy/exchange.js';
import { openExchange } from './proxy/open-exchange.js';
import { randomUUID } from 'node:crypto';
import { createUpstream } from './proxy/upstream.js';
import { createAttribution } from './usage/attribution.js';
import { PriceTable } from './usage/prices.js';
import { resolveTracing, SHUTDOWN_FLUSH_MS } from './trace/settings.js';
import type { Tracing } from './trace/types.js';

export interface RunningTokentap {
  proxyUrl: string;
  metricsUrl: string;
  config: Config;
  metrics: Metrics;
  /** Requests not finished yet. */
  active: ActiveList<Exchange>;
  /**
   * Stops accepting, lets in-flight requests finish up to shutdown_grace, aborts the rest (recorded as
   * stream_error), flushes the access log, closes everything. `{ now: true }`: abort at once, also while an
   * earlier close() is still waiting out the grace (a second Ctrl-C); every call returns the same promise.
   */
  close(options?: CloseOptions): Promise<void>;
}

export interface CloseOptions {
  /** Do not wait for in-flight requests: cut them now. */
  now?: boolean;
}

function listen(server: Server, port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address() as AddressInfo;
      const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      resolve(`http://${h === '0.0.0.0' ? '127.0.0.1' : h === '[::]' ? '[::1]' : h}:${addr.port}`);
    });
  });
}

/** Starts tokentap from raw config fields (validated here; defaults applied). */
export function startTokentap(input: ConfigInput, options: StartOptions = {}): Promise<RunningTokentap> {
  return startWithConfig(validateConfig(input as Record<string, unknown>), options);
}

export interface StartOptions {
  /** Serve the metrics port from this process (false in cluster workers: the primary serves the aggregate). */
  serveMetrics?: boolean;
  /** The OTEL_* variables tracing reads (default process.env; src/trace/settings.ts). The exporter reads
   * OTEL_EXPORTER_OTLP_*HEADERS, *COMPRESSION and the certificate variables from process.env itself. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Tracing, when the config or the OTEL_* environment turns it on: the SDK is imported here and only then, so
 * tracing off loads no OpenTelemetry module. Each process (each --workers worker) exports its own spans.
 */
async function startTracingIfOn(config: Config, env: NodeJS.ProcessEnv, metrics: Metrics): Promise<Tracing | null> {
  const { settings } = resolveTracing(config, env);
  if (settings === null) return null;
  const { startTracing } = await import('./trace/tracer.js');
  return startTracing(settings, config.upstream!, { dropped: metrics.traceSpansDropped(), say: (line) => void process.stderr.write(`${line}\n`) });
}

/** Serves /metrics, /healthz, /readyz on the metrics port; `openMetrics`: the OpenMetrics exposition, when
 * this process has one (not the --workers primary, whose aggregate has no exemplars). */
export function startMetricsServer(
  config: Config,
  exposition: () => Promise<string | readonly string[]>,
  contentType: string,
  ready: () => Promise<boolean>,
  openMetrics?: () => Promise<string | readonly string[]>,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createAdaptorServer({
    fetch: createMetricsApp({ exposition, contentType, openMetrics, ready, token: config.metrics_token }).fetch,
    overrideGlobalObjects: false,
  }) as Server;
  return listen(server, config.metrics_port, config.metrics_host).then((url) => ({
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  }));
}

/** Starts tokentap from an already validated config (e.g. loadConfig's). */
export async function startWithConfig(config: Config, { serveMetrics = true, env = process.env }: StartOptions = {}): Promise<RunningTokentap> {
  if (config.upstream === undefined) throw new Error('startTokentap: `upstream` is required');
  const upstream = createUpstream(config.upstream, {
    connectTimeoutMs: config.upstream_connect_timeout,
    headersTimeoutMs: config.upstream_headers_timeout,
    idleTimeoutMs: config.upstream_idle_timeout,
  });
  const prices = Object.keys(config.prices).length > 0 ? new PriceTable(config.prices) : null;
  const metrics = createMetrics(config.buckets, () => upstream.probe(), {
    users: config.user_from.length > 0,
    currency: prices === null ? undefined : config.currency,
  });
  const log = openAccessLog(config.access_log);
  const active = new ActiveList<Exchange>();
  const clientErrors = newClientErrorState();
  const models = new ModelLabeler(config.model_allowlist, config.max_models);
  const tracing = await startTracingIfOn(config, env, metrics);
  const deps = { config, upstream, models, attribution: createAttribution(config), prices, metrics, log, active, clientErrors, tracing };

  const proxyServer = createServer(
    {
      requestTimeout: config.request_timeout,
      headersTimeout: Math.min(60_000, config.request_timeout),
      connectionsCheckingInterval: Math.max(10, Math.min(30_000, config.request_timeout / 4)),
    },
    proxyListener(deps),
  );
  const clientErrorSinks = { ...deps, onIdleConnection: metrics.connectionClosedIdle };
  proxyServer.on('clientError', (err: NodeJS.ErrnoException, socket) => handleClientError(clientErrorSinks, clientErrors, err, socket as Socket));
  proxyServer.on('connect', (req, socket) => handleConnect(deps, clientErrors, req, socket as Socket));
  // An Expect other than 100-continue: answered 417 here (node:http would answer it without telling anyone).
  proxyServer.on('checkExpectation', (req, res) => {
    const init = { t0: performance.now(), requestId: randomUUID(), method: req.method ?? '-', endpoint: 'other' as const, model: undefined, stream: false };
    const exchange = openExchange(deps, init, req.headers, req.url ?? '');
    sendJsonError(res, exchange, expectationFailed, 'rejected', true);
  });
  const proxyUrl = await listen(proxyServer, config.port, config.host);
  const metricsServer = serveMetrics
    ? await startMetricsServer(config, metrics.exposition, metrics.contentType, () => upstream.probe(), metrics.openMetrics)
    : null;
  const metricsUrl = metricsServer?.url ?? '';

  let closing: Promise<void> | null = null;
  // close({ now: true }) ends the grace wait at once, also one already under way.
  let cutting = false;
  let cutNow = () => {};
  const cut = new Promise<void>((resolve) => (cutNow = resolve));
  const close = ({ now = false }: CloseOptions = {}) => {
    if (now) {
      cutting = true;
      cutNow();
    }
    return (closing ??= (async () => {
      const proxyClosed = new Promise<void>((resolve) => proxyServer.close(() => resolve()));
      proxyServer.closeIdleConnections();
      const deadline = Date.now() + config.shutdown_grace;
      while (active.size > 0 && !cutting && Date.now() < deadline) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([cut, new Promise((r) => (timer = setTimeout(r, Math.min(50, Math.max(1, deadline - Date.now())))))]);
        clearTimeout(timer);
      }
      for (const exchange of active.toArray()) exchange.abort();
      proxyServer.closeAllConnections();
      await proxyClosed;
      await upstream.close();
      await tracing?.shutdown(SHUTDOWN_FLUSH_MS); // the last spans, bounded: a dead collector does not hold the exit
      await log.close();
      await metricsServer?.close();
    })());
  };

  return { proxyUrl, metricsUrl, config, metrics, active, close };
}
