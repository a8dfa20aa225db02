/**
 * Network errors in words. fetch() says only "fetch failed" and keeps the reason in `err.cause` (an Error with
 * a `code`, or an AggregateError of one per address tried); undici's request() throws the coded error itself.
 * `describeError` digs out the code and says what it means, for messages that name the URL and the cause.
 */

/** What an error code means, for someone who started a server and pointed the bench at it. */
const WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused (is the server running, on that host and port?)',
  ECONNRESET: 'the connection was reset',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed (DNS)',
  ETIMEDOUT: 'connect timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EADDRNOTAVAIL: 'address not available',
  EPIPE: 'the server closed the connection while the request was sent',
  UND_ERR_SOCKET: 'the server closed the connection',
  UND_ERR_CLOSED: 'the connection was closed',
  UND_ERR_DESTROYED: 'the connection was closed',
  UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
  UND_ERR_HEADERS_TIMEOUT: 'no response headers within the timeout',
  UND_ERR_BODY_TIMEOUT: 'the response body stalled longer than the timeout',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'the response body did not match its Content-Length',
  UND_ERR_ABORTED: 'aborted',
  UND_ERR_INFO: 'the response was not valid HTTP',
  EPROTO: 'TLS handshake failed (an http:// server behind an https:// URL?)',
  ERR_SSL_WRONG_VERSION_NUMBER: 'TLS handshake failed (an http:// server behind an https:// URL?)',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'its TLS certificate is self-signed (not trusted)',
  SELF_SIGNED_CERT_IN_CHAIN: 'its TLS certificate chain is self-signed (not trusted)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'its TLS certificate could not be verified',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'its TLS certificate could not be verified (unknown issuer)',
  CERT_HAS_EXPIRED: 'its TLS certificate has expired',
  ERR_TLS_CERT_ALTNAME_INVALID: 'its TLS certificate is for another host name',
  ERR_INVALID_URL: 'not a valid URL',
};

/** Words for an error code; `undefined` for a code not listed. HPE_* (llhttp) is a response that is not HTTP. */
export function codeInWords(code: string): string | undefined {
  if (WORDS[code]) return WORDS[code];
  if (code.startsWith('HPE_')) return 'the response is not HTTP/1.1 (an https:// server behind an http:// URL?)';
  return undefined;
}

interface Coded {
  name?: string;
  code?: unknown;
  message?: string;
  cause?: unknown;
  errors?: unknown[];
}

/** The innermost error that carries a string `code` (following `cause` and AggregateError's `errors`). */
export function errorCode(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  const walk = (e: unknown): string | undefined => {
    if (e === null || typeof e !== 'object' || seen.has(e)) return undefined;
    seen.add(e);
    const c = e as Coded;
    const inner = walk(c.cause) ?? (Array.isArray(c.errors) ? c.errors.map(walk).find((x) => x !== undefined) : undefined);
    return inner ?? (typeof c.code === 'string' ? c.code : undefined);
  };
  return walk(err);
}

/** The deepest message other than fetch()'s "fetch failed". */
function innerMessage(err: unknown): string {
  let e = err as Coded | undefined;
  let msg = '';
  for (let depth = 0; e && typeof e === 'object' && depth < 8; depth++) {
    if (e.message && e.message !== 'fetch failed') msg = e.message;
    e = e.cause as Coded | undefined;
  }
  return msg || (err instanceof Error ? err.message : String(err));
}

/**
 * The cause of a failed request in words, with the code: `connection refused (…) [ECONNREFUSED]`.
 * A timeout (AbortSignal.timeout) says so, with `timeoutMs` when given.
 */
export function describeError(err: unknown, timeoutMs?: number): string {
  const e = err as Coded | undefined;
  if (e?.name === 'TimeoutError' || (e?.cause as Coded | undefined)?.name === 'TimeoutError') {
    return timeoutMs !== undefined ? `no answer within ${timeoutMs / 1000} s` : 'timed out';
  }
  const code = errorCode(err);
  const words = code !== undefined ? codeInWords(code) : undefined;
  if (code !== undefined && words !== undefined) return `${words} [${code}]`;
  const msg = innerMessage(err);
  return code !== undefined && !msg.includes(code) ? `${msg} [${code}]` : msg;
}

/** `METHOD URL: cause`, the form of every network error the bench prints. */
export function requestFailed(method: string, url: string, err: unknown, timeoutMs?: number): string {
  return `${method} ${url}: ${describeError(err, timeoutMs)}`;
}
