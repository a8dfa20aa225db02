/**
 * Tracing on: the OpenTelemetry SDK's tracer provider, a bounded BatchSpanProcessor and the OTLP/HTTP
 * (protobuf) exporter. Imported with `import()` by server.ts only when resolveTracing says on, so that tracing
 * off loads none of it. Export runs in the background: the proxy never waits for the collector, and spans
 * that cannot be exported are dropped and counted.
 */
import { createRequire } from 'node:module';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { detectResources, resourceAttributesEnvDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
} from '@opentelemetry/sdk-trace';
import { redactUrl } from '../config/load.js';
import { CountingExporter, CountingProcessor, type DropReporter, type QueueLength } from './drop-count.js';
import { startRequestSpan, upstreamAddress } from './request-span.js';
import type { SamplerSpec, TracingSettings } from './settings.js';
import type { Tracing } from './types.js';

export function samplerOf(spec: SamplerSpec): Sampler {
  const root = spec.ratio >= 1 ? new AlwaysOnSampler() : spec.ratio <= 0 ? new AlwaysOffSampler() : new TraceIdRatioBasedSampler(spec.ratio);
  return spec.parentBased ? new ParentBasedSampler({ root }) : root;
}

function version(): string {
  return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
}

export interface TracingSinks {
  /** tokentap_trace_spans_dropped_total. */
  dropped: { inc(by?: number): void };
  /** One line about tracing for the operator (stderr): each kind of drop is reported once. */
  say(line: string): void;
}

/** Starts the tracer provider for one process (each --workers process exports its own spans). */
export function startTracing(settings: TracingSettings, upstreamUrl: string, sinks: TracingSinks): Tracing {
  const reported = new Set<string>();
  const shown = redactUrl(settings.url);
  const dropped: DropReporter = (count, reason) => {
    sinks.dropped.inc(count);
    const kind = reason === 'queue_full' ? 'queue_full' : 'export_failed';
    if (reported.has(kind)) return;
    reported.add(kind);
    if (reason === 'queue_full') {
      sinks.say(`tokentap: tracing: the export queue is full (${settings.batch.maxQueueSize} spans; is the collector at ${shown} slow?): spans are dropped and counted in tokentap_trace_spans_dropped_total (reported once)`);
    } else {
      const err = reason.error as (Error & { code?: string }) | undefined;
      const why = err?.code ?? err?.name ?? 'unknown error';
      sinks.say(`tokentap: tracing: exporting spans to ${shown} failed (${why}): they are dropped and counted in tokentap_trace_spans_dropped_total (reported once)`);
    }
  };
  sinks.dropped.inc(0); // the counter is exposed (at 0) whenever tracing is on

  const queue: QueueLength = { waiting: 0 };
  const exporter = new CountingExporter(
    new OTLPTraceExporter({ url: settings.url, timeoutMillis: settings.exportTimeoutMs }),
    queue,
    dropped,
    settings.batch.exportTimeoutMillis,
  );
  const batch = new BatchSpanProcessor({ exporter, ...settings.batch });
  const resource = detectResources({ detectors: [resourceAttributesEnvDetector] }).merge(
    resourceFromAttributes({ 'service.name': settings.serviceName, 'service.version': version(), 'process.pid': process.pid }),
  );
  const provider = new TracerProvider({
    resource,
    sampler: samplerOf(settings.sampler),
    spanProcessors: [new CountingProcessor(batch, queue, settings.batch.maxQueueSize, dropped)],
  });
  const tracer = provider.getTracer('tokentap', version());
  const propagator = new W3CTraceContextPropagator();
  const upstream = upstreamAddress(upstreamUrl);

  return {
    start: (init) => startRequestSpan(tracer, propagator, upstream, init),
    shutdown: async (timeoutMs) => {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
        timer.unref();
      });
      await Promise.race([provider.shutdown().catch(() => {}), bound]);
      clearTimeout(timer);
    },
  };
}
