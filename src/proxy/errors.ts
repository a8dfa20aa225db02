/** OpenAI-style error bodies for the answers tokentap gives itself. Pure. */

export interface ProxyErrorSpec {
  status: number;
  type: string;
  code: string;
  message: string;
}

export function errorBody(spec: ProxyErrorSpec): string {
  return JSON.stringify({ error: { message: spec.message, type: spec.type, code: spec.code } });
}

export const upstreamUnreachable = (cause: string): ProxyErrorSpec => ({
  status: 502,
  type: 'upstream_error',
  code: 'upstream_unreachable',
  message: `tokentap could not reach the upstream server: ${cause}`,
});

export const upstreamHeadersTimeout = (ms: number): ProxyErrorSpec => ({
  status: 504,
  type: 'upstream_error',
  code: 'upstream_timeout',
  message: `the upstream server sent no response headers within ${ms} ms (upstream_headers_timeout)`,
});

export const bodyTooLarge = (limit: number): ProxyErrorSpec => ({
  status: 413,
  type: 'invalid_request_error',
  code: 'request_too_large',
  message: `request body exceeds the ${limit}-byte limit (body_limit)`,
});

export const internalError: ProxyErrorSpec = {
  status: 500,
  type: 'internal_error',
  code: 'internal_error',
  message: 'tokentap internal error',
};

/** The SSE event sent when the upstream goes silent mid-stream for longer than upstream_idle_timeout. */
export function idleTimeoutEvent(ms: number): string {
  const body = errorBody({
    status: 504,
    type: 'upstream_error',
    code: 'upstream_idle_timeout',
    message: `the upstream server sent nothing for ${ms} ms mid-stream (upstream_idle_timeout)`,
  });
  return `data: ${body}\n\n`;
}
