import { describe, expect, it } from 'vitest';
import { removeDotSegments, resolveTarget } from '../../src/proxy/request-target.js';

const local = { localAddress: '10.1.2.3', localPort: 8080 };
const resolve = (method: string, url: string | undefined, socket: { localAddress?: string; localPort?: number } = local) =>
  resolveTarget(method, url, { ...socket, hostname: 'gpu-box-1' });
const path = (p: string, endpoint = 'other') => ({ kind: 'path', path: p, endpoint });
const refusedFor = (method: string, url: string) => {
  const r = resolve(method, url);
  expect(r.kind).toBe('refused');
  return r.kind === 'refused' ? r.reason : '';
};

describe('resolveTarget: the common case', () => {
  it('a plain path is forwarded as sent (the same string) and classified as before', () => {
    const url = '/v1/chat/completions?x=1';
    const r = resolve('POST', url);
    expect(r).toEqual(path(url, 'chat_completions'));
    expect(r.kind === 'path' && r.path).toBe(url);
    expect(resolve('POST', '/v1/completions/')).toEqual(path('/v1/completions/', 'completions'));
    expect(resolve('GET', '/v1/models')).toEqual(path('/v1/models'));
  });

  it('an absent url is the root', () => {
    expect(resolve('GET', undefined)).toEqual(path('/'));
  });
});

describe('resolveTarget: percent-encoded paths (finding 3)', () => {
  it('/v1/chat/%63ompletions is chat completions, forwarded decoded', () => {
    expect(resolve('POST', '/v1/chat/%63ompletions')).toEqual(path('/v1/chat/completions', 'chat_completions'));
    expect(resolve('POST', '/v1/%65mbeddings?a=%2F')).toEqual(path('/v1/embeddings?a=%2F', 'embeddings'));
  });

  it('/v1/chat%2Fcompletions is refused: decoding changes the endpoint it names', () => {
    expect(refusedFor('POST', '/v1/chat%2Fcompletions')).toMatch(/encoded \//);
    expect(refusedFor('POST', '/v1/chat/completions%2f')).toMatch(/encoded \//);
    expect(refusedFor('POST', '/v1%2Fchat/completions')).toMatch(/encoded \//); // completions as sent, chat decoded
  });

  it('GET /v1/models/org%2Fmodel passes unchanged', () => {
    expect(resolve('GET', '/v1/models/org%2Fmodel')).toEqual(path('/v1/models/org%2Fmodel'));
    expect(resolve('GET', '/v1/models/%C3%A9t%c3%a9')).toEqual(path('/v1/models/%C3%A9t%c3%a9'));
  });

  it('an encoded ? is part of the path, not a query: /v1/chat/completions%3F names no endpoint', () => {
    expect(resolve('POST', '/v1/chat/completions%3F')).toEqual(path('/v1/chat/completions%3F'));
  });

  it('%25 is decoded once only, as a router does: %2563 stays', () => {
    expect(resolve('POST', '/v1/chat/%2563ompletions')).toEqual(path('/v1/chat/%2563ompletions'));
  });

  it('a stray % that is no escape is forwarded as sent', () => {
    expect(resolve('GET', '/v1/models/100%')).toEqual(path('/v1/models/100%'));
    expect(resolve('GET', '/v1/models/%zz%2')).toEqual(path('/v1/models/%zz%2'));
  });
});

describe('resolveTarget: dot segments (finding 4)', () => {
  it.each([
    ['/../tenant-b/v1/models', '/tenant-b/v1/models'],
    ['/v1/../../x', '/x'],
    ['/%2e%2e/x', '/x'],
    ['/%2E./%2e%2E/x', '/x'],
    ['/a/./b/../c', '/a/c'],
    ['/a/b/..', '/a/'],
    ['/..', '/'],
    ['/.', '/'],
    ['/a//../b', '/a/b'],
    ['/v1/.well-known/x', '/v1/.well-known/x'],
  ])('%s → %s, never above the root', (url, expected) => {
    expect(resolve('GET', url)).toEqual(path(expected));
  });

  it('the endpoint is that of the normalised path', () => {
    expect(resolve('POST', '/v1/x/../chat/completions')).toEqual(path('/v1/chat/completions', 'chat_completions'));
    expect(resolve('POST', '/v1/chat/completions/..')).toEqual(path('/v1/chat/', 'other'));
  });

  it('an encoded / that would make a dot segment once decoded is refused', () => {
    expect(refusedFor('GET', '/..%2F..%2Ftenant-b/v1/models')).toMatch(/dot segment/);
    expect(refusedFor('GET', '/v1/models/a%2F%2e%2e')).toMatch(/dot segment/);
  });

  it('the query string is kept byte for byte', () => {
    expect(resolve('GET', '/a/../b?p=%2F..%2F&q=/../x&r=%2e%2e')).toEqual(path('/b?p=%2F..%2F&q=/../x&r=%2e%2e'));
    expect(resolve('GET', '/b?q=/../x')).toEqual(path('/b?q=/../x'));
  });

  it('a fragment is refused (no request target has one; a server dropping it routes another path)', () => {
    expect(refusedFor('POST', '/v1/chat/completions#x')).toMatch(/fragment/);
  });

  it('a 100 KB path is resolved in linear time', () => {
    const long = '/%2e%2e/a/.'.repeat(10_000);
    const t0 = performance.now();
    expect(resolve('GET', long)).toEqual(path('/a/'));
    expect(resolve('GET', '/x%2F'.repeat(20_000))).toEqual(path('/x%2F'.repeat(20_000)));
    expect(resolve('POST', `/v1/chat/completions?${'/..'.repeat(30_000)}`).kind).toBe('path');
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it('removeDotSegments follows RFC 3986 §5.2.4 examples', () => {
    expect(removeDotSegments('/a/b/c/./../../g')).toBe('/a/g');
    expect(removeDotSegments('/mid/content=5/../6')).toBe('/mid/6');
  });
});

describe('resolveTarget: other target forms', () => {
  it('an absolute-form target naming another host is refused, and the reason does not echo it', () => {
    const reason = refusedFor('GET', 'http://evil/x');
    expect(reason).toMatch(/not a forward proxy/);
    expect(reason).not.toContain('evil');
    refusedFor('GET', 'http://127.0.0.1:9999/v1/models'); // our host, another port
    refusedFor('GET', 'http://127.0.0.1/v1/models'); // default port 80 is not 8080
    refusedFor('GET', 'http://user@127.0.0.1:8080/v1/models');
    refusedFor('GET', 'http://127.0.0.1:8080x/v1/models');
    refusedFor('GET', 'ftp://127.0.0.1:8080/v1/models');
  });

  it('an absolute-form target naming tokentap itself is used in origin form', () => {
    expect(resolve('GET', 'http://127.0.0.1:8080/v1/models')).toEqual(path('/v1/models'));
    expect(resolve('POST', 'HTTP://LocalHost:8080/v1/chat/%63ompletions')).toEqual(path('/v1/chat/completions', 'chat_completions'));
    expect(resolve('GET', 'http://[::1]:8080?x=1')).toEqual(path('/?x=1'));
    expect(resolve('GET', 'http://10.1.2.3:8080')).toEqual(path('/'));
    expect(resolve('GET', 'http://GPU-box-1:8080/../x')).toEqual(path('/x'));
    expect(resolve('GET', 'https://gpu-box-1/v1/models', { localAddress: '::ffff:10.1.2.3', localPort: 443 })).toEqual(path('/v1/models'));
    expect(resolve('GET', 'http://10.1.2.3/v1/models', { localAddress: '::ffff:10.1.2.3', localPort: 80 })).toEqual(path('/v1/models'));
  });

  it('OPTIONS * is asterisk; * with another method is refused', () => {
    expect(resolve('OPTIONS', '*')).toEqual({ kind: 'asterisk' });
    expect(refusedFor('GET', '*')).toMatch(/only for OPTIONS/);
  });

  it('CONNECT is authority-form', () => {
    expect(resolve('CONNECT', 'host:443')).toEqual({ kind: 'authority' });
  });

  it('anything else not starting with / is refused', () => {
    expect(refusedFor('GET', 'host:80')).toMatch(/must be a path/);
    expect(refusedFor('GET', 'v1/models')).toMatch(/must be a path/);
    expect(refusedFor('GET', '')).toMatch(/must be a path/);
  });
});
