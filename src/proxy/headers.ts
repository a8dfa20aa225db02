/** Header rules of the proxy, in one place: hop-by-hop stripping, forwarding headers, SSE additions. Pure. */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/** RFC 9110 §7.6.1 connection-specific fields, plus the proxy-auth pair and the legacy Proxy-Connection. */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Names listed in a Connection header value (they are hop-by-hop for this message too). */
const NONE: ReadonlySet<string> = new Set();

export function connectionTokens(value: string | string[] | undefined): ReadonlySet<string> {
  if (value === undefined || value === 'keep-alive' || value === 'close') return NONE;
  const out = new Set<string>();
  for (const v of Array.isArray(value) ? value : [value]) {
    for (const token of v.split(',')) {
      const t = token.trim().toLowerCase();
      if (t) out.add(t);
    }
  }
  return out;
}

/** True when `name` (lower-case) must not be forwarded, given the message's Connection tokens. */
export function isHopByHop(name: string, listed: ReadonlySet<string>): boolean {
  return HOP_BY_HOP.has(name) || listed.has(name);
}

export interface UpstreamHeaderOptions {
  requestId: string;
  clientIp: string | undefined;
  /** Length of the body that will be sent upstream; undefined: no body. */
  bodyLength: number | undefined;
  /** Ask the upstream for an uncompressed response (the meter must read it). */
  identityEncoding: boolean;
  /**
   * The client is a trusted proxy (config trust_forwarded_headers): keep its X-Forwarded-Host/-Proto.
   * Otherwise they are tokentap's own view, so a client cannot make the upstream believe another host or https.
   */
  trustForwarded?: boolean;
  /**
   * Tracing on: tokentap's W3C `traceparent` (its span as the parent) replaces the client's, and `tracestate`
   * (the client's, carried on) is sent with it. Undefined (tracing off): both pass through untouched.
   */
  traceparent?: string;
  tracestate?: string;
}

/**
 * Headers for the upstream request, from the client's raw headers (order and repeats kept):
 * hop-by-hop removed, Host left to the upstream's, Content-Length recomputed, X-Forwarded-For appended to,
 * X-Forwarded-Host/-Proto tokentap's own unless the client is trusted, x-request-id set. Returns undici's
 * flat [name, value, …] form.
 */
export function upstreamRequestHeaders(rawHeaders: string[], opts: UpstreamHeaderOptions): string[] {
  let listed: Set<string> | null = null;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i].toLowerCase() === 'connection') {
      listed ??= new Set();
      for (const t of connectionTokens(rawHeaders[i + 1])) listed.add(t);
    }
  }
  const out: string[] = [];
  let xff: string | undefined;
  let host: string | undefined;
  let hasProto = false;
  let hasFwdHost = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    const lower = name.toLowerCase();
    const value = rawHeaders[i + 1];
    if (HOP_BY_HOP.has(lower) || (listed !== null && listed.has(lower))) continue;
    switch (lower) {
      case 'host':
        host = value;
        continue;
      case 'content-length':
      case 'x-request-id':
      // Expect: 100-continue was answered by tokentap's own HTTP server (the body is read before forwarding);
      // forwarding it would make undici refuse the request.
      case 'expect':
        continue;
      case 'x-forwarded-for':
        xff = xff === undefined ? value : `${xff}, ${value}`;
        continue;
      case 'accept-encoding':
        if (opts.identityEncoding) continue;
        break;
      case 'x-forwarded-proto':
        if (!opts.trustForwarded) continue;
        hasProto = true;
        break;
      case 'x-forwarded-host':
        if (!opts.trustForwarded) continue;
        hasFwdHost = true;
        break;
      case 'traceparent':
      case 'tracestate':
        if (opts.traceparent !== undefined) continue;
        break;
    }
    out.push(name, value);
  }
  if (opts.clientIp) xff = xff === undefined ? opts.clientIp : `${xff}, ${opts.clientIp}`;
  if (xff !== undefined) out.push('x-forwarded-for', xff);
  if (!hasProto) out.push('x-forwarded-proto', 'http');
  if (!hasFwdHost && host !== undefined) out.push('x-forwarded-host', host);
  if (opts.identityEncoding) out.push('accept-encoding', 'identity');
  if (opts.bodyLength !== undefined) out.push('content-length', String(opts.bodyLength));
  out.push('x-request-id', opts.requestId);
  if (opts.traceparent !== undefined) {
    out.push('traceparent', opts.traceparent);
    if (opts.tracestate) out.push('tracestate', opts.tracestate);
  }
  return out;
}

export interface ClientHeaderOptions {
  requestId: string;
  isSse: boolean;
  /** The body will differ from the upstream's (usage chunk removed): drop Content-Length. */
  bodyRewritten: boolean;
}

/** Headers for the client's response, from the upstream's: hop-by-hop removed, x-request-id (when the upstream sent none) and SSE hints added. */
export function clientResponseHeaders(upstream: IncomingHttpHeaders, opts: ClientHeaderOptions): OutgoingHttpHeaders {
  const listed = connectionTokens(upstream.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined || isHopByHop(name, listed)) continue;
    if (opts.bodyRewritten && name === 'content-length') continue;
    out[name] = value;
  }
  // The upstream's own id (OpenAI's `req_…`, which its support asks for) reaches the client unchanged;
  // tokentap's when the upstream sends none.
  if (out['x-request-id'] === undefined) out['x-request-id'] = opts.requestId;
  if (opts.isSse) {
    if (out['x-accel-buffering'] === undefined) out['x-accel-buffering'] = 'no';
    if (out['cache-control'] === undefined) out['cache-control'] = 'no-cache';
  }
  return out;
}

/** A client-supplied x-request-id is kept when it is short and printable; otherwise one is generated. */
export function acceptableRequestId(value: string | string[] | undefined): string | undefined {
  if (typeof value !== 'string') return undefined;
  return value.length > 0 && value.length <= 200 && /^[\x21-\x7e]+$/.test(value) ? value : undefined;
}
