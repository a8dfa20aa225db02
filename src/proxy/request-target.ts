/**
 * The request target, made safe to forward and classified as the upstream will route it. Pure.
 *
 * Two hostile-input findings meet here. Servers such as vLLM (Starlette on uvicorn) percent-decode the path
 * before routing, so `/v1/chat/%63ompletions` runs chat completions: the path is classified as the upstream's
 * router sees it, or refused where decoding changes which endpoint it names. And the target is appended to
 * the upstream's base path, so dot segments (also percent-encoded ones) are removed first and absolute-form
 * targets naming another host are refused: a client can never reach above the base path.
 */
import { classifyEndpoint, classifyPath, type Endpoint } from './endpoint.js';

export type RequestTarget =
  /** Forward `path` (origin-form, normalised, query kept byte for byte) after the upstream's base path. */
  | { readonly kind: 'path'; readonly path: string; readonly endpoint: Endpoint }
  /** `OPTIONS *`: a question about the server itself, answered by tokentap. */
  | { readonly kind: 'asterisk' }
  /** CONNECT (authority-form): tokentap is not a tunnel. */
  | { readonly kind: 'authority' }
  /** Answer 400; `reason` says why and never contains the target. */
  | { readonly kind: 'refused'; readonly reason: string };

/** Who tokentap is, for absolute-form targets: the listening end of the client's socket, and os.hostname(). */
export interface SelfAuthority {
  readonly localAddress?: string;
  readonly localPort?: number;
  readonly hostname: string;
}

const refused = (reason: string): RequestTarget => Object.freeze({ kind: 'refused', reason });
const ASTERISK: RequestTarget = Object.freeze({ kind: 'asterisk' });
const AUTHORITY: RequestTarget = Object.freeze({ kind: 'authority' });
const NOT_A_PATH = refused('the request target must be a path starting with /');
const ASTERISK_NOT_OPTIONS = refused('the * request target is only for OPTIONS');
const FOREIGN = refused('tokentap is not a forward proxy: an absolute-form request target must name tokentap itself');
const FRAGMENT = refused('a request target cannot carry a #fragment');
const ENCODED_SLASH = refused('the path names a different endpoint once percent-decoded (an encoded /)');
const ENCODED_DOT = refused('the path has a dot segment (. or ..) once percent-decoded (an encoded /)');

const SLASH = 0x2f;
const DOT = 0x2e;

/**
 * Where the request goes, from its method and raw target (`incoming.url`). `self` says which authorities are
 * tokentap's own, for absolute-form targets: port equal to the local port (80/443 when absent) and host the
 * local address, a loopback name or address, or the machine's host name.
 */
export function resolveTarget(method: string, rawUrl: string | undefined, self: SelfAuthority): RequestTarget {
  if (method === 'CONNECT') return AUTHORITY;
  const url = rawUrl ?? '/';
  if (url.charCodeAt(0) === SLASH) return originForm(method, url);
  if (url === '*') return method === 'OPTIONS' ? ASTERISK : ASTERISK_NOT_OPTIONS;
  const m = ABSOLUTE.exec(url);
  if (m === null) return NOT_A_PATH;
  if (!isOwnAuthority(m[1].toLowerCase() === 'https' ? 443 : 80, m[2], self)) return FOREIGN;
  const rest = url.slice(m[0].length);
  return originForm(method, rest === '' ? '/' : rest.charCodeAt(0) === SLASH ? rest : `/${rest}`);
}

/** scheme, authority; the authority ends at the path, the query or a fragment (RFC 3986 §3.2). */
const ABSOLUTE = /^(https?):\/\/([^/?#]*)/i;
const LOOPBACK_V4 = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

function isOwnAuthority(defaultPort: number, authority: string, self: SelfAuthority): boolean {
  if (authority.includes('@')) return false; // userinfo: never tokentap's own form
  let host: string;
  let port: string;
  if (authority.charCodeAt(0) === 0x5b /* [ */) {
    const close = authority.indexOf(']');
    if (close === -1 || (close + 1 < authority.length && authority[close + 1] !== ':')) return false;
    host = authority.slice(1, close);
    port = authority.slice(close + 2);
  } else {
    const colon = authority.lastIndexOf(':');
    host = colon === -1 ? authority : authority.slice(0, colon);
    port = colon === -1 ? '' : authority.slice(colon + 1);
  }
  // RFC 3986 §6.2.3: an empty port is the scheme's default
  if (port !== '' && !/^\d{1,5}$/.test(port)) return false;
  if ((port === '' ? defaultPort : Number(port)) !== self.localPort) return false;
  host = host.toLowerCase();
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host === '') return false;
  if (host === 'localhost' || host === '::1' || LOOPBACK_V4.test(host)) return true;
  const address = self.localAddress?.toLowerCase();
  // a dual-stack listener reports IPv4 peers' local address as ::ffff:a.b.c.d
  if (address !== undefined && (host === address || (address.startsWith('::ffff:') && host === address.slice(7)))) return true;
  return self.hostname !== '' && host === self.hostname.toLowerCase();
}

function originForm(method: string, url: string): RequestTarget {
  // The common case costs three scans of a short string: nothing encoded, no dot segment, no fragment.
  if (url.indexOf('%') === -1 && url.indexOf('/.') === -1 && url.indexOf('#') === -1) {
    return { kind: 'path', path: url, endpoint: classifyEndpoint(method, url) };
  }
  // HTTP has no fragment in a request target (RFC 9112 §3.2); a server dropping it would route a path other
  // than the one classified here.
  if (url.indexOf('#') !== -1) return FRAGMENT;
  const q = url.indexOf('?');
  const path = removeDotSegments(decodeUnreserved(q === -1 ? url : url.slice(0, q)));
  const endpoint = classifyPath(method, path);
  if (path.indexOf('%') !== -1) {
    // What remains encoded is reserved (or not an escape at all); the upstream's router decodes it.
    const routed = percentDecode(path);
    if (hasDotSegment(routed)) return ENCODED_DOT;
    if (classifyPath(method, routed) !== endpoint) return ENCODED_SLASH;
  }
  return { kind: 'path', path: q === -1 ? path : path + url.slice(q), endpoint };
}

/** RFC 3986 §2.3 unreserved: ALPHA DIGIT - . _ ~ */
const UNRESERVED = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  UNRESERVED[c] = /[A-Za-z0-9\-._~]/.test(ch) ? 1 : 0;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  c |= 0x20; // lower case
  return c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
}

/** The byte a `%XX` escape at `i` stands for, or -1 when it is not one. */
function escapedByte(s: string, i: number): number {
  if (i + 2 >= s.length) return -1;
  const hi = hexDigit(s.charCodeAt(i + 1));
  const lo = hexDigit(s.charCodeAt(i + 2));
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/**
 * Decodes escapes of unreserved characters (RFC 3986 §6.2.2.2: equivalent for any compliant server), so
 * `%2e%2e` is seen as the dot segment it is. Reserved, `%25` and non-ASCII escapes stay as sent. One pass;
 * decoding never makes a new `%`, so nothing is decoded twice.
 */
function decodeUnreserved(path: string): string {
  let out = '';
  let from = 0;
  for (let i = path.indexOf('%'); i !== -1; i = path.indexOf('%', i + 1)) {
    const byte = escapedByte(path, i);
    if (byte < 0 || byte >= 128 || UNRESERVED[byte] === 0) continue;
    out += path.slice(from, i) + String.fromCharCode(byte);
    from = i + 3;
    i += 2;
  }
  return from === 0 ? path : out + path.slice(from);
}

/**
 * Every escape decoded, one char per byte: the path as a decoding router matches it. Multi-byte UTF-8 is
 * not assembled; only ASCII (`/`, `.`, endpoint names) matters to the checks, and a non-ASCII byte never
 * reads as ASCII either way.
 */
function percentDecode(path: string): string {
  let out = '';
  let from = 0;
  for (let i = path.indexOf('%'); i !== -1; i = path.indexOf('%', i + 1)) {
    const byte = escapedByte(path, i);
    if (byte < 0) continue;
    out += path.slice(from, i) + String.fromCharCode(byte);
    from = i + 3;
    i += 2;
  }
  return from === 0 ? path : out + path.slice(from);
}

/**
 * RFC 3986 §5.2.4 for an absolute path, with a segment stack (linear): `..` above the root stays at the root,
 * and a path ending in a dot segment keeps its trailing `/`.
 */
export function removeDotSegments(path: string): string {
  if (path.indexOf('/.') === -1) return path;
  const segments = path.split('/');
  const out: string[] = [];
  let trailing = false;
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i];
    if (s === '.' || s === '..') {
      if (s === '..') out.pop();
      trailing = i === segments.length - 1;
    } else {
      out.push(s);
    }
  }
  return trailing && out.length > 0 ? `/${out.join('/')}/` : `/${out.join('/')}`;
}

function hasDotSegment(path: string): boolean {
  for (let i = path.indexOf('/.'); i !== -1; i = path.indexOf('/.', i + 1)) {
    let end = i + 2;
    if (path.charCodeAt(end) === DOT) end++;
    if (end === path.length || path.charCodeAt(end) === SLASH) return true;
  }
  return false;
}
