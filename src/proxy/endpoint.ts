/** Which metered endpoint a request is, from its method and path. Pure. */

export type Endpoint = 'chat_completions' | 'completions' | 'responses' | 'embeddings' | 'other';

/** POST …/chat/completions, …/completions, …/responses, …/embeddings are metered; all else is `other`. */
export function classifyEndpoint(method: string | undefined, url: string | undefined): Endpoint {
  if (method !== 'POST' || url === undefined) return 'other';
  const q = url.indexOf('?');
  return classifyPath(method, q === -1 ? url : url.slice(0, q));
}

/**
 * As classifyEndpoint, for a path without its query: a `?` here is part of the path (a decoded `%3F`), so
 * `/v1/chat/completions%3F` decoded does not name chat completions (the upstream's router would not either).
 */
export function classifyPath(method: string | undefined, path: string): Endpoint {
  if (method !== 'POST') return 'other';
  if (path.endsWith('/')) path = path.slice(0, -1);
  if (path.endsWith('/chat/completions')) return 'chat_completions';
  if (path.endsWith('/completions')) return 'completions';
  if (path.endsWith('/responses')) return 'responses';
  if (path.endsWith('/embeddings')) return 'embeddings';
  return 'other';
}

/** Endpoints whose streaming requests accept `stream_options.include_usage`. */
export function acceptsStreamOptions(endpoint: Endpoint): boolean {
  return endpoint === 'chat_completions' || endpoint === 'completions';
}
