/** `--target` as given → the API base the bench appends endpoint paths to. Pure. */
import type { BenchEndpoint } from './types.js';

export interface NormalizedTarget {
  /** The API base, without a trailing slash, e.g. `http://127.0.0.1:8080/v1`. */
  target: string;
  /** The endpoint the URL named, when it was an endpoint URL (`…/v1/completions`). */
  endpoint?: BenchEndpoint;
  /** What was changed and why, for a line on stderr; null when the URL was used as given. */
  note: string | null;
}

const ENDPOINT_SUFFIXES: [string, BenchEndpoint][] = [
  ['/chat/completions', 'chat'],
  ['/completions', 'completions'],
  ['/responses', 'responses'],
];

/**
 * - no path (`http://h:8080`, `http://h:8080/`): `/v1` is appended — OpenAI-compatible servers (vLLM, tokentap in
 *   front of one, the simulator, OpenAI) serve the API under /v1;
 * - an endpoint URL (`…/v1/chat/completions`): cut to its base, and the endpoint it named is returned;
 * - anything else is kept (a gateway may serve the API under another prefix).
 * Throws on a URL that is not http(s).
 */
export function normalizeTarget(raw: string): NormalizedTarget {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error(`--target is not a URL: ${raw} (e.g. http://127.0.0.1:8080/v1)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`--target must be an http:// or https:// URL, got ${raw}`);
  if (u.search !== '' || u.hash !== '' || u.username !== '') return { target: raw, note: null }; // a gateway's own URL scheme: as given
  const path = u.pathname.replace(/\/+$/, '');
  if (path === '') {
    const target = `${u.origin}/v1`;
    return { target, note: `--target ${raw} has no path: using ${target} (the API base usually ends in /v1; give the full base if yours differs)` };
  }
  for (const [suffix, endpoint] of ENDPOINT_SUFFIXES) {
    if (path.endsWith(suffix) && path.length > suffix.length) {
      const target = `${u.origin}${path.slice(0, -suffix.length)}`;
      return { target, endpoint, note: `--target ${raw} is an endpoint URL: using the base ${target} with --endpoint ${endpoint}` };
    }
  }
  return { target: `${u.origin}${path}`, note: null };
}
