/**
 * Where a request's user comes from (`user_from`): request headers, the body's `user` member, or the id of
 * the API key it carries; the first source that yields a value wins. Parsing the config entries and reading
 * one request's headers are pure.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { LONE_SURROGATE } from '../metrics/model-label.js';

export type UserSource = { kind: 'header'; name: string } | { kind: 'body' } | { kind: 'api_key' };

/** Open WebUI's headers (sent when it runs with ENABLE_FORWARD_USER_INFO_HEADERS=true): email, then id. */
export const OPENWEBUI_HEADERS = ['x-openwebui-user-email', 'x-openwebui-user-id'] as const;

/**
 * Longer values are not user ids (the source is skipped; the next one is tried): a header or body member
 * can be kilobytes long, and every id is written to each log line. An email address is at most 254.
 */
export const MAX_USER_LENGTH = 256;

/** Headers that carry credentials: a user taken from them would write a secret into labels and logs. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'proxy-authorization', 'api-key', 'x-api-key', 'cookie', 'set-cookie']);

/** RFC 9110 token characters: what a header name is made of. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Why a `user_from` entry is not valid, or null when it is. */
export function userSourceProblem(entry: string): string | null {
  if (entry === 'body:user' || entry === 'api_key' || entry === 'openwebui') return null;
  if (entry.startsWith('header:')) {
    const name = entry.slice('header:'.length).toLowerCase();
    if (!HEADER_NAME.test(name)) return `"${entry}": header:<name> needs a header name, e.g. header:x-team`;
    if (CREDENTIAL_HEADERS.has(name)) return `"${entry}" carries credentials and would be stored in labels and logs; use api_key (a keyed hash of the key) instead`;
    return null;
  }
  return `"${entry}" is not a source: use header:<name>, body:user, api_key or openwebui`;
}

/** The sources of valid `user_from` entries, in order (`openwebui` expanded to its two headers). */
export function parseUserFrom(entries: readonly string[]): UserSource[] {
  const out: UserSource[] = [];
  for (const entry of entries) {
    if (entry === 'body:user') out.push({ kind: 'body' });
    else if (entry === 'api_key') out.push({ kind: 'api_key' });
    else if (entry === 'openwebui') for (const name of OPENWEBUI_HEADERS) out.push({ kind: 'header', name });
    else out.push({ kind: 'header', name: entry.slice('header:'.length).toLowerCase() });
  }
  return out;
}


/**
 * Control characters (C0, DEL, C1): no user id has them. A body's `"\u0000"` would break the NUL-joined keys
 * of label sets (user "a\0b" with model "c" and user "a" with model "b\0c" were one series), and an ESC
 * sequence would reach terminals through `tokentap usage`.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * A usable id: trimmed, non-empty, at most MAX_USER_LENGTH, well-formed UTF-16, no control character; else
 * undefined. (A body's `"\ud800"` decodes to a lone surrogate, which the exposition writes as U+FFFD: two such
 * users would be two series with one label set, and Prometheus refuses a scrape with duplicate series.)
 */
export function userValue(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const s = v.trim();
  return s === '' || s.length > MAX_USER_LENGTH || LONE_SURROGATE.test(s) || CONTROL.test(s) ? undefined : s;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

const NON_ASCII = /[\u0080-\u00ff]/;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A header value as text: Node reads header bytes as Latin-1, but clients send non-ASCII names and emails as
 * UTF-8, so bytes that are UTF-8 are read as such (`jörg@…` rather than `jÃ¶rg@…`, the same user as in a body's
 * `user`); other bytes stay Latin-1. ASCII, the usual case, is returned as is.
 */
export function headerText(v: string | undefined): string | undefined {
  if (v === undefined || !NON_ASCII.test(v)) return v;
  try {
    return UTF8.decode(Buffer.from(v, 'latin1'));
  } catch {
    return v;
  }
}

const BEARER = /^bearer[ \t]+/i;

/**
 * The API key a request carries: `Authorization: Bearer <key>` (what OpenAI clients send), else the
 * `api-key` header (what Azure OpenAI clients send). Undefined when neither is there.
 */
export function apiKeyOf(headers: IncomingHttpHeaders): string | undefined {
  const auth = header(headers, 'authorization');
  if (auth !== undefined && BEARER.test(auth)) {
    const key = auth.replace(BEARER, '').trim();
    if (key !== '') return key;
  }
  const key = header(headers, 'api-key')?.trim();
  return key === '' ? undefined : key;
}

/**
 * The user of one request: the first source that yields a value (`bodyUser`: the body's `user` member as
 * read by the body scan; `keyId`: the id of its API key, null without one or without key_id_secret).
 * `hash` (hash_user_ids) turns a header's or the body's value into a pseudonym; a key id is one already.
 */
export function resolveUser(
  sources: readonly UserSource[],
  headers: IncomingHttpHeaders,
  bodyUser: string | undefined,
  keyId: string | null,
  hash?: (user: string) => string,
): string | undefined {
  for (const s of sources) {
    if (s.kind === 'api_key') {
      if (keyId !== null) return keyId;
      continue;
    }
    const v = userValue(s.kind === 'header' ? headerText(header(headers, s.name)) : bodyUser);
    if (v !== undefined) return hash === undefined ? v : hash(v);
  }
  return undefined;
}
