/**
 * An OTLP/HTTP traces receiver on loopback (node:http, port 0): what tokentap exports is decoded with the
 * OpenTelemetry project's own protobuf definitions (the generated root that @opentelemetry/otlp-transformer
 * shipped, installed as `otlp-proto`), not a parser of ours.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';

interface ProtoType {
  decode(bytes: Uint8Array): unknown;
  toObject(message: unknown, options: Record<string, unknown>): Record<string, unknown>;
}
const root = createRequire(import.meta.url)('otlp-proto/build/src/generated/root.js') as {
  opentelemetry: { proto: { collector: { trace: { v1: { ExportTraceServiceRequest: ProtoType } } } } };
};
const ExportTraceServiceRequest = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

export type AttributeValue = string | number | boolean | AttributeValue[];

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  /** SPAN_KIND_SERVER, … */
  kind: string;
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, AttributeValue>;
  events: { name: string; timeNs: bigint }[];
  /** STATUS_CODE_UNSET / _OK / _ERROR. */
  status: { code: string; message: string };
  resource: Record<string, AttributeValue>;
  scope: string;
}

type Obj = Record<string, unknown>;
const hex = (b64: unknown) => Buffer.from(String(b64 ?? ''), 'base64').toString('hex');

function value(v: Obj | undefined): AttributeValue {
  if (v === undefined) return '';
  if ('stringValue' in v) return v.stringValue as string;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return v.doubleValue as number;
  if ('boolValue' in v) return v.boolValue as boolean;
  if ('arrayValue' in v) return (((v.arrayValue as Obj).values ?? []) as Obj[]).map(value);
  return JSON.stringify(v);
}

function attributes(list: unknown): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const kv of (list ?? []) as Obj[]) out[kv.key as string] = value(kv.value as Obj | undefined);
  return out;
}

/** Decodes one ExportTraceServiceRequest body into its spans. */
export function decodeSpans(body: Uint8Array): ReceivedSpan[] {
  const msg = ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(body), { longs: String, bytes: String, enums: String });
  const out: ReceivedSpan[] = [];
  for (const rs of (msg.resourceSpans ?? []) as Obj[]) {
    const resource = attributes((rs.resource as Obj | undefined)?.attributes);
    for (const ss of (rs.scopeSpans ?? []) as Obj[]) {
      const scope = String((ss.scope as Obj | undefined)?.name ?? '');
      for (const s of (ss.spans ?? []) as Obj[]) {
        const status = (s.status ?? {}) as Obj;
        out.push({
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId),
          name: s.name as string,
          kind: String(s.kind),
          startNs: BigInt(s.startTimeUnixNano as string),
          endNs: BigInt(s.endTimeUnixNano as string),
          attributes: attributes(s.attributes),
          events: ((s.events ?? []) as Obj[]).map((e) => ({ name: e.name as string, timeNs: BigInt(e.timeUnixNano as string) })),
          status: { code: String(status.code ?? 'STATUS_CODE_UNSET'), message: String(status.message ?? '') },
          resource,
          scope,
        });
      }
    }
  }
  return out;
}

export interface OtlpReceiver {
  /** Base URL (http://127.0.0.1:port): tokentap appends /v1/traces. */
  url: string;
  spans: ReceivedSpan[];
  /** The export requests' raw bodies. */
  bodies: Buffer[];
  /** Each export request's path and headers. */
  requests: { path: string; headers: IncomingHttpHeaders }[];
  /** Resolves once `n` spans arrived (rejects after `timeoutMs`). */
  waitForSpans(n: number, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const requests: OtlpReceiver['requests'] = [];
  const bodies: Buffer[] = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', headers: req.headers });
      const body = Buffer.concat(parts);
      bodies.push(body);
      try {
        spans.push(...decodeSpans(body));
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      } catch (err) {
        res.writeHead(400).end(String(err));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    bodies,
    requests,
    async waitForSpans(n, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (spans.length < n) {
        if (Date.now() > deadline) throw new Error(`${spans.length} spans of ${n} arrived within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return spans;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
