import { connect, type Socket } from 'node:net';
import { startSimulator, type RunningSim } from '../../src/sim/server.js';
import type { SimOptions } from '../../src/sim/options.js';

export async function withSim<T>(opts: SimOptions, fn: (sim: RunningSim) => Promise<T>): Promise<T> {
  const sim = await startSimulator({ port: 0, ...opts });
  try {
    return await fn(sim);
  } finally {
    await sim.close();
  }
}

export interface SseEvent {
  /** performance.now() when the bytes completing this event arrived. */
  at: number;
  event?: string;
  id?: string;
  comments: string[];
  data: string;
  /** JSON-parsed data, or undefined for [DONE] / non-JSON. */
  json?: any;
}

export interface RawStream {
  status: number;
  headers: Headers;
  /** performance.now() when fetch() was called. */
  start: number;
  raw: string;
  events: SseEvent[];
}

/** Parse complete SSE events out of `buf`; returns the unconsumed tail. */
function drainEvents(buf: string, at: number, out: SseEvent[]): string {
  for (;;) {
    const m = /\r\n\r\n|\n\n|\r\r/.exec(buf);
    if (!m) return buf;
    const block = buf.slice(0, m.index);
    buf = buf.slice(m.index + m[0].length);
    const ev: SseEvent = { at, comments: [], data: '' };
    const dataLines: string[] = [];
    for (const line of block.split(/\r\n|\n|\r/)) {
      if (line.startsWith(':')) ev.comments.push(line.slice(1).trim());
      else {
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        let value = i < 0 ? '' : line.slice(i + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') dataLines.push(value);
        else if (field === 'event') ev.event = value;
        else if (field === 'id') ev.id = value;
      }
    }
    if (dataLines.length === 0 && ev.comments.length > 0 && ev.event === undefined) {
      out.push(ev);
      continue;
    }
    ev.data = dataLines.join('\n');
    try {
      ev.json = ev.data === '[DONE]' ? undefined : JSON.parse(ev.data);
    } catch {
      ev.json = undefined;
    }
    out.push(ev);
  }
}

/** POST JSON and read the whole SSE response, timestamping each event. */
export async function postSse(url: string, body: unknown, headers: Record<string, string> = {}): Promise<RawStream> {
  const start = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const events: SseEvent[] = [];
  let raw = '';
  let buf = '';
  const decoder = new TextDecoder();
  if (res.body) {
    for await (const chunk of res.body) {
      const text = decoder.decode(chunk, { stream: true });
      raw += text;
      buf = drainEvents(buf + text, performance.now(), events);
    }
  }
  return { status: res.status, headers: res.headers, start, raw, events };
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; json: any; text: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

/** A raw TCP client that sends one HTTP/1.1 request; reading can be paused. */
export function rawRequest(port: number, path: string, body: unknown, headers: Record<string, string> = {}): Socket {
  const payload = JSON.stringify(body);
  const sock = connect(port, '127.0.0.1');
  const head = [
    `POST ${path} HTTP/1.1`,
    'host: 127.0.0.1',
    'content-type: application/json',
    `content-length: ${Buffer.byteLength(payload)}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    '',
    '',
  ].join('\r\n');
  sock.write(head + payload);
  return sock;
}

export function nextEvent<T = any>(sim: RunningSim, name: string): Promise<T> {
  return new Promise((resolve) => sim.events.once(name, resolve));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await sleep(10);
  }
  throw new Error('waitFor: condition not met in time');
}

export const CHAT_PATH = '/v1/chat/completions';
