/** Which metered endpoint a request is, from its method and path. Pure. */

export type Endpoint = 'chat_completions' | 'completions' | 'responses' | 'embeddings' | 'other';

/** POST …/chat/completions, …/completions, …/responses, …/embeddings are metered; all else is `other`. */
export function classifyEndpoint(method: string | undefined, url: string | undefined): Endpoint {
  if (method !== 'POST' || url === undefined) return 'other';
  const q = url.indexOf('?');
  let path = q === -1 ? url : url.slice(0, q);
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
