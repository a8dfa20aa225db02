/** body:user: the request body's top-level `user` string, read by the same byte scan as model and stream. */
import { describe, expect, it } from 'vitest';
import { inspectRequestBody, withIncludeUsage } from '../../src/proxy/request-body.js';

const b = (s: string) => Buffer.from(s);

describe('inspectRequestBody(body, withUser)', () => {
  it('reads the top-level user string only when asked', () => {
    const body = b('{"model":"m","messages":[{"role":"user","content":"hi","user":"nested"}],"user":"alice","stream":true}');
    expect(inspectRequestBody(body, true)).toMatchObject({ model: 'm', stream: true, user: 'alice' });
    expect(inspectRequestBody(body).user).toBeUndefined();
    expect(inspectRequestBody(body, false).user).toBeUndefined();
  });
  it('escaped strings are decoded; non-strings and nested members are not users', () => {
    expect(inspectRequestBody(b('{"user":"b\\u00f6b \\"q\\""}'), true).user).toBe('böb "q"');
    for (const body of ['{"user":42}', '{"user":null}', '{"user":{"id":"x"}}', '{"metadata":{"user":"x"}}', '{"user":"x"', 'not json']) {
      expect(inspectRequestBody(b(body), true).user, body).toBeUndefined();
    }
  });
  it('a huge user member is not read (bounded), and the body is never rewritten for it', () => {
    const body = b(`{"model":"m","stream":true,"user":"${'x'.repeat(100_000)}"}`);
    const facts = inspectRequestBody(body, true);
    expect(facts.user).toBeUndefined();
    expect(facts.model).toBe('m');
    const sent = withIncludeUsage(body, facts).toString();
    expect(sent.replace('"stream_options":{"include_usage":true},', '')).toBe(body.toString());
  });
  it('the last of duplicate keys wins, as JSON.parse', () => {
    expect(inspectRequestBody(b('{"user":"a","user":"b"}'), true).user).toBe('b');
  });
});
