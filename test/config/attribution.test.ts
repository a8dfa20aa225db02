/** The attribution and price fields: defaults, environment, and errors that name the field, never the secret. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';

function tempYaml(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'tokentap-cfg-')), 'c.yaml');
  writeFileSync(file, text);
  return file;
}

const SECRET = 'k3y-1d-s3cret-value-0123456789';

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('attribution config', () => {
  it('is off by default', () => {
    expect(loadConfig({ env: {} })).toMatchObject({ user_from: [], hash_user_ids: false, max_users: 100, user_allowlist: [], prices: {}, currency: 'USD' });
    expect(loadConfig({ env: {} }).key_id_secret).toBeUndefined();
  });

  it('reads every scalar and list field from TOKENTAP_* (prices are file-only)', () => {
    const c = loadConfig({
      env: {
        TOKENTAP_USER_FROM: 'openwebui, header:x-team,api_key',
        TOKENTAP_KEY_ID_SECRET: SECRET,
        TOKENTAP_HASH_USER_IDS: 'true',
        TOKENTAP_MAX_USERS: '7',
        TOKENTAP_USER_ALLOWLIST: 'u_1,u_2',
        TOKENTAP_CURRENCY: 'EUR',
      },
    });
    expect(c).toMatchObject({ user_from: ['openwebui', 'header:x-team', 'api_key'], key_id_secret: SECRET, hash_user_ids: true, max_users: 7, user_allowlist: ['u_1', 'u_2'], currency: 'EUR' });
    expect(errorOf(() => loadConfig({ env: { TOKENTAP_PRICES: 'x' } }))).toMatch(/unknown environment variable TOKENTAP_PRICES/);
  });

  it('reads a price table from the file, globs in file order', () => {
    const file = tempYaml('prices:\n  "gpt-4o*": { input: 2.5, cached_input: 1.25, output: 10 }\n  qwen3-32b:\n    input: 0.1\n    output: 0.3\n    reasoning: 0.6\n');
    const c = loadConfig({ file, env: {} });
    expect(c.prices).toEqual({ 'gpt-4o*': { input: 2.5, cached_input: 1.25, output: 10 }, 'qwen3-32b': { input: 0.1, output: 0.3, reasoning: 0.6 } });
    expect(Object.keys(c.prices)).toEqual(['gpt-4o*', 'qwen3-32b']);
  });

  it('bad price entries name prices.<model>.<field>', () => {
    const msg = errorOf(() =>
      loadConfig({ file: tempYaml('prices:\n  m1: { output: 1 }\n  m2: { input: -1, output: x }\n  m3: { input: 1, output: 1, cached_imput: 1 }\n  m4: 3\n'), env: {} }),
    );
    expect(msg).toMatch(/prices\.m1\.input: is required/);
    expect(msg).toMatch(/prices\.m2\.input: must be a number from 0 to 1,000,000/);
    expect(msg).toMatch(/prices\.m2\.output: must be a number from 0 to 1,000,000/);
    expect(msg).toMatch(/unknown field prices\.m3\.cached_imput \(did you mean cached_input\?\)/);
    expect(msg).toMatch(/prices\.m4: must be a mapping with input and output/);
    expect(errorOf(() => loadConfig({ file: tempYaml('prices: [1]\n'), env: {} }))).toMatch(/prices: must be a mapping of model names or globs/);
    expect(errorOf(() => loadConfig({ file: tempYaml('prices:\n  m: { input: .inf, output: 1 }\n'), env: {} }))).toMatch(/prices\.m\.input: must be a number from 0 to 1,000,000/);
    expect(errorOf(() => loadConfig({ file: tempYaml('prices:\n  m: { input: 1, output: 1e300 }\n'), env: {} }))).toMatch(/prices\.m\.output: must be a number from 0 to 1,000,000/);
  });

  it('bad user_from entries are named', () => {
    const msg = errorOf(() => loadConfig({ env: { TOKENTAP_USER_FROM: 'header:x-team,email,header:authorization' } }));
    expect(msg).toMatch(/user_from: "email" is not a source/);
    expect(msg).toMatch(/user_from: "header:authorization" carries credentials/);
    expect(msg).not.toMatch(/x-team/);
  });

  it('api_key or hash_user_ids without key_id_secret: an error naming key_id_secret and TOKENTAP_KEY_ID_SECRET', () => {
    expect(errorOf(() => loadConfig({ env: { TOKENTAP_USER_FROM: 'api_key' } }))).toMatch(
      /key_id_secret: required when user_from contains api_key: set key_id_secret in the config file or TOKENTAP_KEY_ID_SECRET/,
    );
    expect(errorOf(() => loadConfig({ env: { TOKENTAP_USER_FROM: 'openwebui', TOKENTAP_HASH_USER_IDS: 'yes' } }))).toMatch(
      /key_id_secret: required when hash_user_ids is true: .*TOKENTAP_KEY_ID_SECRET/,
    );
    expect(loadConfig({ env: { TOKENTAP_USER_FROM: 'api_key', TOKENTAP_KEY_ID_SECRET: SECRET } }).user_from).toEqual(['api_key']);
  });

  it('never prints the secret', () => {
    for (const [env, file] of [
      [{ TOKENTAP_KEY_ID_SECRET: 'short-s3cr3t' }, undefined],
      [{}, tempYaml('key_id_secret: 123456789012345678\n')],
      [{ TOKENTAP_KEY_ID_SECRET: 'short-s3cr3t', TOKENTAP_MAX_USERS: 'many' }, undefined],
    ] as const) {
      const msg = errorOf(() => loadConfig({ env, file }));
      expect(msg).toMatch(/key_id_secret: /);
      expect(msg).not.toMatch(/s3cr3t|123456789012345678/);
    }
  });

  it('max_users, hash_user_ids and currency are checked', () => {
    expect(errorOf(() => loadConfig({ env: { TOKENTAP_MAX_USERS: '0' } }))).toMatch(/max_users: must be a whole number >= 1/);
    expect(errorOf(() => loadConfig({ env: { TOKENTAP_HASH_USER_IDS: 'maybe' } }))).toMatch(/hash_user_ids/);
    expect(errorOf(() => loadConfig({ env: { TOKENTAP_CURRENCY: 'US dollars\n' } }))).toMatch(/currency: must be a currency code/);
  });
});
