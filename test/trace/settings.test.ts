/**
 * resolveTracing (pure): which of the config fields and the standard OTEL_* variables turn tracing on, where
 * spans go, and how requests are sampled; the header rule that carries trace context to the upstream.
 */
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { upstreamRequestHeaders } from '../../src/proxy/headers.js';
import { spanName, urlPath } from '../../src/trace/request-span.js';
import { resolveTracing, tracesUrl } from '../../src/trace/settings.js';

const config = (fields: Record<string, unknown> = {}) => validateConfig({ upstream: 'http://127.0.0.1:8000', ...fields });

describe('resolveTracing', () => {
  it('off by default', () => {
    expect(resolveTracing(config(), {})).toEqual({ settings: null, warnings: [] });
    expect(resolveTracing(config(), { OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' }).settings).toBeNull();
  });

  it('tracing_endpoint turns it on, /v1/traces appended unless there; parent-based always on, service tokentap', () => {
    const s = resolveTracing(config({ tracing_endpoint: 'http://collector:4318' }), {}).settings!;
    expect(s.url).toBe('http://collector:4318/v1/traces');
    expect(s.urlSource).toBe('tracing_endpoint');
    expect(s.serviceName).toBe('tokentap');
    expect(s.sampler).toEqual({ name: 'parentbased_always_on', ratio: 1, parentBased: true });
    expect(s.batch).toEqual({ maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMillis: 5000, exportTimeoutMillis: 30_000 });
    expect(tracesUrl('http://c:4318/otlp/')).toBe('http://c:4318/otlp/v1/traces');
    expect(tracesUrl('https://c/otlp/v1/traces')).toBe('https://c/otlp/v1/traces');
  });

  it('the OTLP endpoint variables: the traces one as is, the general one with /v1/traces; the config field wins', () => {
    expect(resolveTracing(config(), { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318' }).settings?.url).toBe('http://a:4318/v1/traces');
    const both = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:9999/custom' };
    expect(resolveTracing(config(), both).settings).toMatchObject({ url: 'http://b:9999/custom', urlSource: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' });
    expect(resolveTracing(config({ tracing_endpoint: 'http://c:4318' }), both).settings?.url).toBe('http://c:4318/v1/traces');
  });

  it('OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none turn it off, even with an endpoint', () => {
    const on = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318' };
    expect(resolveTracing(config(), { ...on, OTEL_SDK_DISABLED: 'TRUE' }).settings).toBeNull();
    expect(resolveTracing(config({ tracing_endpoint: 'http://a:4318' }), { OTEL_TRACES_EXPORTER: 'none' }).settings).toBeNull();
    expect(resolveTracing(config(), { ...on, OTEL_SDK_DISABLED: 'false' }).settings).not.toBeNull();
  });

  it('samplers: OTEL_TRACES_SAMPLER/_ARG, and tracing_sample_ratio over them (parent-based)', () => {
    const on = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318' };
    const sampler = (env: Record<string, string>, fields = {}) => resolveTracing(config(fields), { ...on, ...env }).settings?.sampler;
    expect(sampler({ OTEL_TRACES_SAMPLER: 'always_off' })).toEqual({ name: 'always_off', ratio: 0, parentBased: false });
    expect(sampler({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' })).toEqual({ name: 'traceidratio 0.25', ratio: 0.25, parentBased: false });
    expect(sampler({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01' })).toMatchObject({ ratio: 0.01, parentBased: true });
    expect(sampler({ OTEL_TRACES_SAMPLER: 'always_off' }, { tracing_sample_ratio: '0.5' })).toMatchObject({ ratio: 0.5, parentBased: true });
  });

  it('what it cannot honour is a warning naming the variable, and a safe default', () => {
    const r = resolveTracing(config(), {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318',
      OTEL_TRACES_SAMPLER: 'jaeger_remote',
      OTEL_BSP_MAX_QUEUE_SIZE: 'lots',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_TRACES_EXPORTER: 'zipkin',
    });
    expect(r.settings?.sampler.name).toBe('parentbased_always_on');
    expect(r.settings?.batch.maxQueueSize).toBe(2048);
    expect(r.warnings).toHaveLength(4);
    expect(r.warnings.join('\n')).toMatch(/OTEL_TRACES_SAMPLER=jaeger_remote is not supported/);
    expect(r.warnings.join('\n')).toMatch(/OTEL_BSP_MAX_QUEUE_SIZE=lots/);
    expect(r.warnings.join('\n')).toMatch(/OTEL_EXPORTER_OTLP_PROTOCOL=grpc/);
    expect(r.warnings.join('\n')).toMatch(/OTEL_TRACES_EXPORTER=zipkin/);
    expect(resolveTracing(config(), { OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' })).toEqual({ settings: null, warnings: ['OTEL_EXPORTER_OTLP_ENDPOINT is not a URL: tracing is off'] });
  });

  it('config errors name the field', () => {
    expect(() => config({ tracing_sample_ratio: 2 })).toThrow(/tracing_sample_ratio: must be a number from 0 to 1/);
    expect(() => config({ tracing_endpoint: 'collector:4318' })).toThrow(/tracing_endpoint: must be an http:\/\/ or https:\/\/ URL/);
  });
});

describe('trace context headers to the upstream', () => {
  const raw = ['Host', 'tap', 'traceparent', '00-aa-bb-01', 'TraceState', 'k=v', 'x-other', '1'];
  const base = { requestId: 'r1', clientIp: undefined, bodyLength: undefined, identityEncoding: false };

  it('tracing off: passed through as sent', () => {
    const out = upstreamRequestHeaders(raw, base);
    expect(out).toContain('traceparent');
    expect(out[out.indexOf('traceparent') + 1]).toBe('00-aa-bb-01');
    expect(out[out.indexOf('TraceState') + 1]).toBe('k=v');
  });

  it("tracing on: tokentap's replace the client's (no duplicates); no tracestate when there is none", () => {
    const out = upstreamRequestHeaders(raw, { ...base, traceparent: '00-t-s-01', tracestate: 'k=v' });
    const pairs = Array.from({ length: out.length / 2 }, (_, i) => [out[2 * i].toLowerCase(), out[2 * i + 1]]);
    expect(pairs.filter(([n]) => n === 'traceparent')).toEqual([['traceparent', '00-t-s-01']]);
    expect(pairs.filter(([n]) => n === 'tracestate')).toEqual([['tracestate', 'k=v']]);
    const none = upstreamRequestHeaders(raw, { ...base, traceparent: '00-t-s-00' });
    expect(none.map((n) => n.toLowerCase())).not.toContain('tracestate');
  });
});

describe('span names', () => {
  it('{operation} {model} for GenAI endpoints, the method otherwise', () => {
    expect(spanName('POST', 'chat_completions', 'gpt-4o')).toBe('chat gpt-4o');
    expect(spanName('POST', 'completions', 'm')).toBe('text_completion m');
    expect(spanName('POST', 'responses', 'm')).toBe('chat m');
    expect(spanName('POST', 'embeddings', undefined)).toBe('embeddings');
    expect(spanName('GET', 'other', 'm')).toBe('GET');
  });

  it('url.path: the path only, never the query or an absolute-form origin', () => {
    expect(urlPath('/v1/chat/completions?key=secret')).toBe('/v1/chat/completions');
    expect(urlPath('/v1/models')).toBe('/v1/models');
    expect(urlPath('http://user:pw@host:1/v1/embeddings?x=1')).toBe('/v1/embeddings');
    expect(urlPath('*')).toBe('*');
  });
});
