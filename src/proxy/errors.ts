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

/** A request target tokentap will not forward (an absolute URL naming another host, an encoded `/` that changes the endpoint, …). */
export const badRequestTarget = (reason: string): ProxyErrorSpec => ({
  status: 400,
  type: 'invalid_request_error',
  code: 'bad_request_target',
  message: `request target refused: ${reason}`,
});

/** CONNECT: tokentap is a reverse proxy, not a tunnel. */
export const connectNotAllowed: ProxyErrorSpec = {
  status: 405,
  type: 'invalid_request_error',
  code: 'method_not_allowed',
  message: 'CONNECT is not supported: tokentap is a reverse proxy, not a forward proxy or tunnel',
};

/** An `Expect` other than 100-continue. */
export const expectationFailed: ProxyErrorSpec = {
  status: 417,
  type: 'invalid_request_error',
  code: 'expectation_failed',
  message: 'only "Expect: 100-continue" is supported',
};
