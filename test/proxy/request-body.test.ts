import { describe, expect, it } from 'vitest';
import { classifyEndpoint } from '../../src/proxy/endpoint.js';
import { inspectRequestBody, withIncludeUsage } from '../../src/proxy/request-body.js';

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

describe('withIncludeUsage', () => {
  it('without stream_options: every client byte kept, the field inserted after the opening brace', () => {
    const body = b('  {"model":"m", "stream": true, "messages":[{"role":"user","content":"é"}], "seed": 12345678901234567890}');
    const out = withIncludeUsage(body, inspectRequestBody(body)).toString();
    expect(out).toBe('{"stream_options":{"include_usage":true},"model":"m", "stream": true, "messages":[{"role":"user","content":"é"}], "seed": 12345678901234567890}');
    expect(JSON.parse(out).stream_options).toEqual({ include_usage: true });
  });
  it('with stream_options lacking include_usage: extends it, keeping its other fields', () => {
    const body = b('{"model":"m","stream":true,"stream_options":{"continuous_usage_stats":false,"include_usage":false}}');
    const out = JSON.parse(withIncludeUsage(body, inspectRequestBody(body)).toString());
    expect(out.stream_options).toEqual({ continuous_usage_stats: false, include_usage: true });
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
