/** A hand-scripted upstream on port 0, for wire-level tests (exact bytes, timing, headers). */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A whole non-streamed chat completion with usage, for scripted upstreams whose answer's content does not matter. */
export const CHAT_COMPLETION_ANSWER = JSON.stringify({
  id: 'c1',
  object: 'chat.completion',
  model: 'm',
  choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
});

export interface RawUpstream {
  url: string;
  server: Server;
  /** The requests received, with their bodies. */
  requests: { method: string; url: string; headers: IncomingMessage['headers']; rawHeaders: string[]; body: string }[];
  close(): Promise<void>;
}

export async function startRawUpstream(
  handler: (req: IncomingMessage, res: ServerResponse, body: string) => void,
): Promise<RawUpstream> {
  const requests: RawUpstream['requests'] = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts).toString('utf8');
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * An upstream that answers every request with `answer` (a JSON body, 200) and keeps nothing of it: for tests
 * that measure tokentap's memory (the simulator and startRawUpstream keep what they were sent).
 */
export async function startForgetfulUpstream(answer: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(answer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
