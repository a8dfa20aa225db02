import { describe, expect, it } from 'vitest';
import { acceptableRequestId, clientResponseHeaders, upstreamRequestHeaders } from '../../src/proxy/headers.js';

const pairs = (flat: string[]) => Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i].toLowerCase(), flat[2 * i + 1]]);

describe('upstreamRequestHeaders', () => {
  const raw = [
    'Host', 'tokentap:8080',
    'Authorization', 'Bearer sk-1',
    'Connection', 'keep-alive, X-Secret-Hop',
    'Keep-Alive', 'timeout=5',
    'X-Secret-Hop', 'drop me',
    'Transfer-Encoding', 'chunked',
    'TE', 'trailers',
    'Upgrade', 'h2c',
    'Proxy-Authorization', 'Basic abc',
    'Content-Length', '999',
    'X-Forwarded-For', '10.0.0.1',
    'Accept-Encoding', 'gzip',
    'X-Custom', 'a',
    'X-Custom', 'b',
    'x-request-id', 'from-client',
  ];

  it('strips RFC 9110 hop-by-hop headers and those named in Connection; keeps end-to-end ones in order with repeats', () => {
    const out = pairs(upstreamRequestHeaders(raw, { requestId: 'rid', clientIp: '127.0.0.9', bodyLength: 12, identityEncoding: false }));
    const names = out.map(([n]) => n);
    for (const hop of ['connection', 'keep-alive', 'x-secret-hop', 'transfer-encoding', 'te', 'upgrade', 'proxy-authorization', 'host']) {
      expect(names).not.toContain(hop);
    }
    expect(out).toEqual([
      ['authorization', 'Bearer sk-1'],
      ['accept-encoding', 'gzip'],
      ['x-custom', 'a'],
      ['x-custom', 'b'],
      ['x-forwarded-for', '10.0.0.1, 127.0.0.9'],
      ['x-forwarded-proto', 'http'],
      ['x-forwarded-host', 'tokentap:8080'],
      ['content-length', '12'],
      ['x-request-id', 'rid'],
    ]);
  });

  it('asks for identity encoding on metered endpoints, so the meter can read the body', () => {
    const out = pairs(upstreamRequestHeaders(raw, { requestId: 'r', clientIp: undefined, bodyLength: undefined, identityEncoding: true }));
    expect(out.filter(([n]) => n === 'accept-encoding')).toEqual([['accept-encoding', 'identity']]);
    expect(out.map(([n]) => n)).not.toContain('content-length');
  });

  const spoofed = [
    'Host', 'tokentap:8080',
    'X-Forwarded-Proto', 'https',
    'X-Forwarded-For', '10.0.0.1',
    'x-forwarded-host', 'bank.example',
    'X-Custom', 'a',
  ];
  const opts = { requestId: 'r', clientIp: '127.0.0.9', bodyLength: undefined, identityEncoding: false };

  it("replaces a client's X-Forwarded-Host/-Proto with tokentap's own view by default; X-Forwarded-For is appended to", () => {
    const expected = [
      ['x-custom', 'a'],
      ['x-forwarded-for', '10.0.0.1, 127.0.0.9'],
      ['x-forwarded-proto', 'http'],
      ['x-forwarded-host', 'tokentap:8080'],
      ['x-request-id', 'r'],
    ];
    expect(pairs(upstreamRequestHeaders(spoofed, opts))).toEqual(expected);
    expect(pairs(upstreamRequestHeaders(spoofed, { ...opts, trustForwarded: false }))).toEqual(expected);
  });

  it('keeps them from a trusted proxy (trust_forwarded_headers)', () => {
    expect(pairs(upstreamRequestHeaders(spoofed, { ...opts, trustForwarded: true }))).toEqual([
      ['x-forwarded-proto', 'https'],
      ['x-forwarded-host', 'bank.example'],
      ['x-custom', 'a'],
      ['x-forwarded-for', '10.0.0.1, 127.0.0.9'],
      ['x-request-id', 'r'],
    ]);
  });

  it('without a Host header and untrusted, no X-Forwarded-Host at all (the client\'s is dropped)', () => {
    const out = pairs(upstreamRequestHeaders(['X-Forwarded-Host', 'evil'], opts));
    expect(out.filter(([n]) => n.startsWith('x-forwarded'))).toEqual([
      ['x-forwarded-for', '127.0.0.9'],
      ['x-forwarded-proto', 'http'],
    ]);
  });
});

describe('clientResponseHeaders', () => {
  it('strips hop-by-hop, adds x-request-id and the SSE hints when absent', () => {
    const out = clientResponseHeaders(
      { 'content-type': 'text/event-stream', connection: 'close, x-hop', 'x-hop': '1', 'transfer-encoding': 'chunked', 'set-cookie': ['a=1', 'b=2'], 'content-length': '10' },
      { requestId: 'rid', isSse: true, bodyRewritten: true },
    );
    expect(out).toEqual({
      'content-type': 'text/event-stream',
      'set-cookie': ['a=1', 'b=2'],
      'x-request-id': 'rid',
      'x-accel-buffering': 'no',
      'cache-control': 'no-cache',
    });
  });

  it('keeps the upstream cache-control and content-length when the body is not rewritten', () => {
    const out = clientResponseHeaders({ 'cache-control': 'no-store', 'content-length': '10' }, { requestId: 'r', isSse: true, bodyRewritten: false });
    expect(out['cache-control']).toBe('no-store');
    expect(out['content-length']).toBe('10');
  });
});

describe('acceptableRequestId', () => {
  it('keeps short printable ids, refuses others', () => {
    expect(acceptableRequestId('abc-123')).toBe('abc-123');
    expect(acceptableRequestId('has space')).toBeUndefined();
    expect(acceptableRequestId('x'.repeat(201))).toBeUndefined();
    expect(acceptableRequestId(['a', 'b'])).toBeUndefined();
  });
});
