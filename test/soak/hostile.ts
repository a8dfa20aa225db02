/**
 * The soak's hostile parts: request bodies and targets a hostile client sends through undici, requests only a
 * raw socket can send, and a front before the simulator that answers some requests as a hostile upstream would
 * (chosen by the client's `x-soak-hostile` header, which tokentap forwards) and relays the rest to it.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { Agent, request } from 'undici';

const chat = (extra = '') => `{"model":"soak","stream":true${extra},"messages":[{"role":"user","content":"soak test prompt"}]}`;

const BODIES: { path: string; body: string; headers?: Record<string, string> }[] = [
  { path: '/v1/chat/completions', body: chat(`,"stream_options":null,"x":${'['.repeat(5000)}${']'.repeat(5000)}`) },
  { path: '/v1/chat/completions', body: chat(`,"seed":12345678901234567890,"stream_options":null`) },
  { path: '/v1/chat/%63ompletions', body: chat() },
  { path: '/v1/chat%2Fcompletions', body: chat() }, // 400
  { path: '/v1/../v1/chat/completions', body: chat() },
  { path: '/v1/chat/completions', body: chat(`,"pad":"${'x'.repeat(100 * 1024)}"`) }, // 413 (body_limit 64KiB)
  { path: '/v1/chat/completions', body: chat(), headers: { 'x-soak-hostile': 'endless' } },
  { path: '/v1/chat/completions', body: chat(), headers: { 'x-soak-hostile': 'early-hints' } },
  { path: '/v1/chat/completions', body: chat(), headers: { 'x-soak-hostile': 'absurd-usage' } },
];

export function hostileBody(): (typeof BODIES)[number] {
  return BODIES[Math.floor(Math.random() * BODIES.length)];
}

const RAW: { bytes: (port: number) => string; requests: number }[] = [
  { bytes: () => 'CONNECT evil:443 HTTP/1.1\r\nhost: evil:443\r\n\r\n', requests: 1 },
  { bytes: () => 'OPTIONS * HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n', requests: 1 },
  { bytes: () => 'GET http://evil/x HTTP/1.1\r\nhost: evil\r\n\r\n', requests: 1 },
  { bytes: () => `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nexpect: 200-ok\r\ncontent-length: ${chat().length}\r\n\r\n${chat()}`, requests: 1 },
  {
    // a malformed request pipelined behind a stream: two requests
    bytes: () => `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${chat().length}\r\n\r\n${chat()}NOT A REQUEST\r\n\r\n`,
    requests: 2,
  },
];

/** Sends one raw-socket hostile request (or pair); resolves with how many requests tokentap should count (each
 * has one span, refused ones too). */
export async function rawHostile(proxyUrl: string): Promise<{ requests: number }> {
  const { hostname, port } = new URL(proxyUrl);
  const pick = RAW[Math.floor(Math.random() * RAW.length)];
  const s = connect(Number(port), hostname);
  s.on('error', () => {});
  s.resume();
  await once(s, 'connect');
  s.write(pick.bytes(Number(port)));
  const timer = setTimeout(() => s.destroy(), 5_000);
  await once(s, 'close');
  clearTimeout(timer);
  return { requests: pick.requests };
}

const usageChunk = (prompt: number) =>
  `data: {"id":"h","object":"chat.completion.chunk","model":"soak","choices":[],"usage":{"prompt_tokens":${prompt},"completion_tokens":2,"total_tokens":3}}\n\n`;
const tokenChunk = 'data: {"id":"h","object":"chat.completion.chunk","model":"soak","choices":[{"index":0,"delta":{"content":"a"}}]}\n\n';

async function answerHostile(mode: string, res: ServerResponse): Promise<void> {
  if (mode === 'early-hints') res.writeEarlyHints({ link: '</x.css>; rel=preload' });
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write(tokenChunk);
  if (mode === 'endless') {
    const piece = Buffer.alloc(64 * 1024, 0x78);
    res.write('data: ');
    for (let i = 0; i < 16 && !res.destroyed; i++) if (!res.write(piece)) await once(res, 'drain');
    res.write('\n\n');
  }
  res.write(tokenChunk);
  res.end(`${usageChunk(mode === 'absurd-usage' ? 1e308 : 3)}data: [DONE]\n\n`);
}

const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding']);

/** The front: hostile answers on request, the simulator's otherwise (faults included: a death is a death). */
export async function hostileFront(simUrl: string): Promise<{ url: string; close(): Promise<void> }> {
  const agent = new Agent({ connections: 512 });
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    res.on('error', () => {});
    const mode = req.headers['x-soak-hostile'];
    if (typeof mode === 'string') {
      req.resume();
      return answerHostile(mode, res).catch(() => res.destroy());
    }
    const ac = new AbortController();
    res.on('close', () => ac.abort());
    try {
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !HOP.has(k) && k !== 'host')) as Record<string, string>;
      const up = await request(`${simUrl}${req.url}`, { method: req.method as 'POST', headers, body: req, dispatcher: agent, signal: ac.signal });
      res.writeHead(up.statusCode, Object.fromEntries(Object.entries(up.headers).filter(([k]) => !HOP.has(k))) as Record<string, string>);
      for await (const chunk of up.body) if (!res.write(chunk)) await once(res, 'drain');
      res.end();
    } catch {
      res.destroy();
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await agent.close();
    },
  };
}
