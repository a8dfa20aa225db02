/**
 * Attribution, hostile user values: a `user` body member may decode to any character, NUL and escape sequences
 * included. A user id with control characters is not an id: the source is skipped (the next one is tried), as
 * for lone surrogates. Before, `"a\u0000b"` was a user of its own, and label sets are keyed by their values
 * joined with NUL, so user "a\0b" with model "c" and user "a" with model "b\0c" were one series (the second's
 * requests counted as the first's); an ESC sequence went into labels and the log, and from there into
 * `tokentap usage`'s table on a terminal.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseExposition } from '../helpers/prom.js';
import { metricSum, startHostile, type Hostile } from './harness.js';

let h: Hostile;
afterEach(() => h?.close());

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

describe('user values with control characters (attribution)', () => {
  it('are not users: the next source is tried; no two users share a series; labels and log stay clean', async () => {
    h = await startHostile({ user_from: ['body:user', 'header:x-team'] });
    // [body user as JSON text, model as JSON text, x-team header]
    const sends: [string, string, string | undefined][] = [
      ['a\\u0000b', 'c', undefined],
      ['a', 'b\\u0000c', undefined],
      ['\\u001b[31mred\\u001b[0m', 'ok', 'blue'],
      ['tab\\there', 'ok', undefined],
      ['del\\u007f', 'ok', undefined],
      ['c1\\u0085', 'ok', undefined],
    ];
    for (const [user, model, team] of sends) {
      const res = await h.request('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(team === undefined ? {} : { 'x-team': team }) },
        body: `{"model":"${model}","user":"${user}","messages":[{"role":"user","content":"hi"}]}`,
      });
      expect(res.statusCode).toBe(200);
      await res.body.text();
    }
    await h.expectClean(sends.length);
    const m = await h.metrics();
    // user "a" with model "b\0c" is counted as itself, not as user "a\0b" with model "c"
    expect(metricSum(m, 'tokentap_user_requests_total', { user: 'a', model: 'b\u0000c' })).toBe(1);
    expect(metricSum(m, 'tokentap_user_requests_total', { model: 'c' })).toBe(1);
    expect(metricSum(m, 'tokentap_user_requests_total', { user: 'blue' })).toBe(1); // the header, after the body's ESC
    expect(metricSum(m, 'tokentap_user_requests_total', { user: 'unknown' })).toBe(4 + 1); // + expectClean's own request
    const users = parseExposition(m)
      .filter((s) => s.name === 'tokentap_user_requests_total')
      .map((s) => s.labels.user);
    for (const user of users) expect(user, JSON.stringify(user)).not.toMatch(CONTROL);
    const logged = h.logLines().map((l) => l.user);
    expect(logged.filter((u) => typeof u === 'string' && CONTROL.test(u))).toEqual([]);
    expect(logged).toContain('blue');
    expect(logged).toContain('a');
  });
});
