/**
 * Attribution from a header whose value is UTF-8 (an email or a name with non-ASCII letters, sent as the
 * UTF-8 bytes every HTTP client sends): Node reads header bytes as Latin-1, so `jörg@example.de` became
 * `jÃ¶rg@example.de` in labels, the access log and `tokentap usage`, a different user than the same address
 * in the body's `user`, and with hash_user_ids a different id than the documented `openssl dgst -hmac` over
 * the address. A header user's bytes are read as UTF-8 when they are UTF-8 (else as Latin-1, as before).
 */
import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { metricSum, startHostile, type Hostile } from './harness.js';

let h: Hostile;
afterEach(() => h?.close());

const SECRET = 'utf8-header-user-secret-4c2b';
const EMAIL = 'jörg.müller@example.de';

/** A chat request on a raw socket with `x-team` set to these bytes; `user`: the body's user member. */
function chatWithTeam(team: Buffer, user?: string): Buffer {
  const body = JSON.stringify({ model: 'm', ...(user === undefined ? {} : { user }), messages: [{ role: 'user', content: 'hi' }] });
  return Buffer.concat([
    Buffer.from('POST /v1/chat/completions HTTP/1.1\r\nhost: tokentap\r\nx-team: '),
    team,
    Buffer.from(`\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`),
  ]);
}

describe('a header user in UTF-8 (attribution)', () => {
  it('is the user its bytes spell, in labels and the log; Latin-1 bytes that are not UTF-8 are read as before', async () => {
    h = await startHostile({ user_from: ['header:x-team', 'body:user'] });
    expect(await h.raw(chatWithTeam(Buffer.from(EMAIL, 'utf8')))).toMatch(/^HTTP\/1\.1 200 /);
    expect(await h.raw(chatWithTeam(Buffer.from('café', 'latin1')))).toMatch(/^HTTP\/1\.1 200 /); // 0xe9: not UTF-8
    await h.expectClean(2);
    const m = await h.metrics();
    expect(metricSum(m, 'tokentap_user_requests_total', { user: EMAIL })).toBe(1);
    expect(metricSum(m, 'tokentap_user_requests_total', { user: 'café' })).toBe(1);
    expect(h.logLines().map((l) => l.user).slice(0, 2)).toEqual([EMAIL, 'café']);
  });

  it('with hash_user_ids: the header and the body name one user, with the id openssl computes over the address', async () => {
    h = await startHostile({ user_from: ['header:x-team', 'body:user'], key_id_secret: SECRET, hash_user_ids: true });
    expect(await h.raw(chatWithTeam(Buffer.from(EMAIL, 'utf8')))).toMatch(/^HTTP\/1\.1 200 /);
    expect(await h.raw(chatWithTeam(Buffer.from(' '), EMAIL))).toMatch(/^HTTP\/1\.1 200 /); // the header is blank: the body's
    await h.expectClean(2);
    const id = `u_${createHmac('sha256', SECRET).update(Buffer.from(EMAIL, 'utf8')).digest('hex').slice(0, 16)}`;
    expect(h.logLines().map((l) => l.user).slice(0, 2)).toEqual([id, id]);
    expect(metricSum(await h.metrics(), 'tokentap_user_requests_total', { user: id })).toBe(2);
  });
});
