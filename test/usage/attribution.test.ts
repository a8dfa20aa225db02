import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { attributionSummary, createAttribution } from '../../src/usage/attribution.js';

const SECRET = 'unit-test-secret-0123456789';
const hmac16 = (v: string) => createHmac('sha256', SECRET).update(v).digest('hex').slice(0, 16);
const config = (env: Record<string, string>) => loadConfig({ env });

describe('createAttribution', () => {
  it('is null (off) without user_from and key_id_secret', () => {
    expect(createAttribution(config({}))).toBeNull();
  });

  it('key ids only: every request with a key gets its id, no user, no label table', () => {
    const a = createAttribution(config({ TOKENTAP_KEY_ID_SECRET: SECRET }))!;
    expect(a.users).toBeNull();
    expect(a.bodyUser).toBe(false);
    expect(a.keyId({ authorization: 'Bearer sk-1' })).toBe(hmac16('sk-1'));
    expect(a.keyId({})).toBeNull();
    expect(a.user({ 'x-team': 't' }, 'b', null)).toBeNull();
  });

  it('hash_user_ids: u_ + HMAC of header and body users; a key id is left as it is', () => {
    const a = createAttribution(
      config({ TOKENTAP_USER_FROM: 'openwebui,body:user,api_key', TOKENTAP_KEY_ID_SECRET: SECRET, TOKENTAP_HASH_USER_IDS: 'true' }),
    )!;
    expect(a.bodyUser).toBe(true);
    expect(a.user({ 'x-openwebui-user-email': 'alice@example.com' }, undefined, null)).toBe(`u_${hmac16('alice@example.com')}`);
    expect(a.user({}, 'bob', null)).toBe(`u_${hmac16('bob')}`);
    const id = a.keyId({ 'api-key': 'az-key' });
    expect(a.user({}, undefined, id)).toBe(hmac16('az-key'));
    expect(a.user({}, undefined, null)).toBeNull();
  });

  it('the user label table: allowlist, else max_users admitted on a 2xx, then other', () => {
    const a = createAttribution(config({ TOKENTAP_USER_FROM: 'header:x-team', TOKENTAP_MAX_USERS: '1' }))!;
    const t = a.users!;
    expect([t.label('a'), t.admit('a'), t.label('a'), t.admit('b'), t.label(undefined)]).toEqual(['other', 'a', 'a', 'other', 'unknown']);
    const allow = createAttribution(config({ TOKENTAP_USER_FROM: 'header:x-team', TOKENTAP_USER_ALLOWLIST: 'x' }))!.users!;
    expect([allow.label('x'), allow.label('y'), allow.mayAdmit('y')]).toEqual(['x', 'other', false]);
  });
});

describe('attributionSummary (the startup line)', () => {
  it('says what is on, never the secret', () => {
    expect(attributionSummary(config({}))).toBeNull();
    const line = attributionSummary(
      loadConfig({ env: { TOKENTAP_USER_FROM: 'openwebui,api_key', TOKENTAP_KEY_ID_SECRET: SECRET, TOKENTAP_HASH_USER_IDS: '1', TOKENTAP_CURRENCY: 'EUR' }, flags: { prices: { 'a*': { input: 1, output: 1 } } } }),
    );
    expect(line).toBe('attribution: users from openwebui, api_key (hashed), at most 100 as labels; key ids in the access log; prices for 1 model name or glob in EUR');
    expect(line).not.toContain(SECRET);
  });
});
