import { describe, expect, it } from 'vitest';
import { classifyEndpoint } from '../../src/proxy/endpoint.js';
import { inspectRequestBody, NO_FACTS, withIncludeUsage } from '../../src/proxy/request-body.js';

const b = (s: string) => Buffer.from(s);

describe('inspectRequestBody', () => {
  it('reads model, stream and include_usage', () => {
    expect(inspectRequestBody(b('{"model":"m","stream":true,"stream_options":{"include_usage":true}}'))).toMatchObject({
      model: 'm',
      stream: true,
      includeUsage: true,
    });
  });
  it('is best-effort: not JSON, arrays, empty bodies give no facts', () => {
    for (const body of ['not json', '[1,2]', '', '{"model":5}']) {
      expect(inspectRequestBody(b(body)).model).toBeUndefined();
    }
  });
});

/** `body` with its bytes [from, to) replaced by `text`: what an edit must produce, byte for byte. */
const replaced = (body: Buffer, from: number, to: number, text: string) =>
  Buffer.concat([body.subarray(0, from), Buffer.from(text), body.subarray(to)]);

const inject = (body: Buffer) => withIncludeUsage(body, inspectRequestBody(body));

describe('inspectRequestBody: injectable', () => {
  it('the client asked for usage: includeUsage, not injectable', () => {
    const facts = inspectRequestBody(b('{"stream":true,"stream_options":{"include_usage":false,"include_usage":true}}'));
    expect(facts).toMatchObject({ includeUsage: true, injectable: false });
  });
  it('no stream_options, stream_options null, include_usage false or null: injectable', () => {
    for (const so of ['', ',"stream_options":null', ',"stream_options":{"include_usage":false}', ',"stream_options":{"include_usage":null,"continuous_usage_stats":false}']) {
      expect(inspectRequestBody(b(`{"stream":true${so}}`)), so).toMatchObject({ includeUsage: false, injectable: true });
    }
  });
  it('stream_options {} or without include_usage: not injectable (vLLM defaults include_usage to true)', () => {
    for (const so of ['{}', '{ }', '{"continuous_usage_stats":true}', '{"continuous_usage_stats":false}']) {
      expect(inspectRequestBody(b(`{"stream":true,"stream_options":${so}}`)), so).toMatchObject({ includeUsage: false, injectable: false });
    }
  });
  it('continuous_usage_stats set: not injectable (usage would come on every chunk)', () => {
    for (const so of ['{"include_usage":false,"continuous_usage_stats":true}', '{"continuous_usage_stats":1,"include_usage":null}']) {
      expect(inspectRequestBody(b(`{"stream":true,"stream_options":${so}}`)).injectable, so).toBe(false);
    }
  });
  it('include_usage neither a boolean nor null, or stream_options not an object: not injectable (the upstream coerces or rejects it)', () => {
    for (const so of ['{"include_usage":0}', '{"include_usage":1}', '{"include_usage":"x"}', '{"include_usage":{}}', '"x"', '1', '[]', 'true', 'nul']) {
      expect(inspectRequestBody(b(`{"stream":true,"stream_options":${so}}`)).injectable, so).toBe(false);
    }
  });
  it('5,000 nested brackets in another member: not JSON, so not injectable; withIncludeUsage gives the body back', () => {
    const body = b(`{"stream":true,"stream_options":null,"x":${'['.repeat(5000)}${']'.repeat(5000)}}`);
    const facts = inspectRequestBody(body);
    expect(facts).toMatchObject({ isObject: false, injectable: false });
    expect(withIncludeUsage(body, facts).equals(body)).toBe(true);
  });
});

describe('withIncludeUsage', () => {
  it('without stream_options: every client byte kept, leading whitespace included, the field inserted after the opening brace', () => {
    const body = b('  {"model":"m", "stream": true, "messages":[{"role":"user","content":"é"}], "seed": 12345678901234567890}');
    const out = inject(body).toString();
    expect(out).toBe('  {"stream_options":{"include_usage":true},"model":"m", "stream": true, "messages":[{"role":"user","content":"é"}], "seed": 12345678901234567890}');
    expect(JSON.parse(out).stream_options).toEqual({ include_usage: true });
  });
  it('an empty object gets the member without a comma', () => {
    expect(inject(b('{}')).toString()).toBe('{"stream_options":{"include_usage":true}}');
    expect(inject(b(' { \n} ')).toString()).toBe(' {"stream_options":{"include_usage":true} \n} ');
  });
  it('stream_options null: only the null replaced (big seed, invalid UTF-8, duplicate keys, leading whitespace kept)', () => {
    const head = Buffer.concat([b('\n {"seed":12345678901234567890,"user":"'), Buffer.from([0xff, 0xfe, 0xc3]), b('","model":"a","model":"b","stream":true,"stream_options" : ')]);
    const body = Buffer.concat([head, b('null , "x":1}')]);
    const out = inject(body);
    expect(out.equals(replaced(body, head.length, head.length + 4, '{"include_usage":true}'))).toBe(true);
    expect(inspectRequestBody(out)).toMatchObject({ model: 'b', includeUsage: true, injectable: false });
  });
  it('include_usage false or null: only that value replaced, the other stream_options members kept', () => {
    for (const value of ['false', 'null']) {
      const head = `{"model":"m","stream":true,"stream_options":{"continuous_usage_stats":false, "include_usage": `;
      const body = b(`${head}${value} }}`);
      expect(inject(body).equals(replaced(body, head.length, head.length + value.length, 'true')), value).toBe(true);
      expect(JSON.parse(inject(body).toString()).stream_options).toEqual({ continuous_usage_stats: false, include_usage: true });
    }
  });
  it('duplicate keys: the last stream_options, and its last include_usage, are edited (as JSON.parse reads them)', () => {
    const first = '{"stream_options":{"include_usage":true},"stream_options":';
    const body = b(`${first}null}`);
    expect(inject(body).equals(replaced(body, first.length, first.length + 4, '{"include_usage":true}'))).toBe(true);
    const inner = '{"stream_options":null,"stream_options":{"include_usage":true,"include_usage":';
    const body2 = b(`${inner}false}}`);
    expect(inject(body2).equals(replaced(body2, inner.length, inner.length + 5, 'true'))).toBe(true);
  });
  it('never throws, and gives the body back, when there is nothing (valid) to write', () => {
    const body = b('{"stream":true}');
    const facts = inspectRequestBody(body);
    expect(withIncludeUsage(body, NO_FACTS).equals(body)).toBe(true);
    expect(withIncludeUsage(b('not json'), inspectRequestBody(b('not json'))).toString()).toBe('not json');
    expect(withIncludeUsage(body, { ...facts, injectable: false }).equals(body)).toBe(true);
    const outside = { ...facts, usageEdit: { start: 10, end: 99, text: b('true') } };
    expect(withIncludeUsage(body, outside).equals(body)).toBe(true);
  });
  it('returns a new buffer: the client body is never written to', () => {
    const body = b('{"stream_options":null}');
    const out = inject(body);
    expect(body.toString()).toBe('{"stream_options":null}');
    expect(out.toString()).toBe('{"stream_options":{"include_usage":true}}');
  });
});

describe('classifyEndpoint', () => {
  it.each([
    ['POST', '/v1/chat/completions', 'chat_completions'],
    ['POST', '/v1/chat/completions?x=1', 'chat_completions'],
    ['POST', '/v1/completions', 'completions'],
    ['POST', '/v1/responses', 'responses'],
    ['POST', '/v1/embeddings', 'embeddings'],
    ['GET', '/v1/chat/completions', 'other'],
    ['GET', '/v1/models', 'other'],
    ['POST', '/tokenize', 'other'],
    ['GET', '/v1/responses/resp_1', 'other'],
  ])('%s %s → %s', (method, url, expected) => {
    expect(classifyEndpoint(method, url)).toBe(expected);
  });
});
