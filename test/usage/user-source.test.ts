import { describe, expect, it } from 'vitest';
import { apiKeyOf, MAX_USER_LENGTH, parseUserFrom, resolveUser, userSourceProblem } from '../../src/usage/user-source.js';

describe('user_from entries', () => {
  it('accepts header:<name>, body:user, api_key and openwebui (two headers, email first)', () => {
    for (const e of ['header:x-team', 'header:X-Team', 'body:user', 'api_key', 'openwebui']) expect(userSourceProblem(e), e).toBeNull();
    expect(parseUserFrom(['openwebui', 'header:X-Team', 'body:user', 'api_key'])).toEqual([
      { kind: 'header', name: 'x-openwebui-user-email' },
      { kind: 'header', name: 'x-openwebui-user-id' },
      { kind: 'header', name: 'x-team' },
      { kind: 'body' },
      { kind: 'api_key' },
    ]);
  });

  it('refuses unknown sources, empty or invalid header names, and credential headers', () => {
    expect(userSourceProblem('user')).toMatch(/"user" is not a source: use header:<name>, body:user, api_key or openwebui/);
    expect(userSourceProblem('header:')).toMatch(/needs a header name/);
    expect(userSourceProblem('header:x team')).toMatch(/needs a header name/);
    for (const h of ['Authorization', 'api-key', 'x-api-key', 'cookie', 'proxy-authorization']) {
      expect(userSourceProblem(`header:${h}`)).toMatch(/carries credentials.*use api_key/);
    }
  });
});

describe('apiKeyOf', () => {
  it('reads Authorization: Bearer (any case), else api-key', () => {
    expect(apiKeyOf({ authorization: 'Bearer sk-1' })).toBe('sk-1');
    expect(apiKeyOf({ authorization: 'bearer   sk-2 ' })).toBe('sk-2');
    expect(apiKeyOf({ 'api-key': 'az-3' })).toBe('az-3');
    expect(apiKeyOf({ authorization: 'Basic dTpw', 'api-key': 'az-4' })).toBe('az-4');
    expect(apiKeyOf({ authorization: 'Bearer ' })).toBeUndefined();
    expect(apiKeyOf({ authorization: 'Basic dTpw' })).toBeUndefined();
    expect(apiKeyOf({})).toBeUndefined();
  });
});

describe('resolveUser', () => {
  const sources = parseUserFrom(['openwebui', 'header:x-team', 'body:user', 'api_key']);
  it('the first source with a value wins', () => {
    const h = { 'x-openwebui-user-email': 'a@x', 'x-openwebui-user-id': 'id-1', 'x-team': 't' };
    expect(resolveUser(sources, h, 'b', 'k')).toBe('a@x');
    expect(resolveUser(sources, { 'x-openwebui-user-id': 'id-1', 'x-team': 't' }, 'b', 'k')).toBe('id-1');
    expect(resolveUser(sources, { 'x-team': ' t ' }, 'b', 'k')).toBe('t');
    expect(resolveUser(sources, {}, 'b', 'k')).toBe('b');
    expect(resolveUser(sources, {}, undefined, 'k')).toBe('k');
    expect(resolveUser(sources, {}, undefined, null)).toBeUndefined();
  });
  it('skips empty and over-long values', () => {
    expect(resolveUser(sources, { 'x-openwebui-user-email': '  ', 'x-team': 'x'.repeat(MAX_USER_LENGTH + 1) }, 'x'.repeat(MAX_USER_LENGTH), null)).toBe(
      'x'.repeat(MAX_USER_LENGTH),
    );
    expect(resolveUser(sources, {}, '', null)).toBeUndefined();
    expect(resolveUser(sources, {}, 'lone \ud800 surrogate', 'k')).toBe('k'); // not well-formed: next source
    expect(resolveUser(sources, {}, 'pair \ud83d\ude00 ok', 'k')).toBe('pair \ud83d\ude00 ok');
  });
  it('hashes header and body values, never a key id (already a pseudonym)', () => {
    const hash = (u: string) => `h(${u})`;
    expect(resolveUser(sources, { 'x-team': 't' }, undefined, 'k', hash)).toBe('h(t)');
    expect(resolveUser(sources, {}, 'b', 'k', hash)).toBe('h(b)');
    expect(resolveUser(sources, {}, undefined, 'k', hash)).toBe('k');
  });
});
