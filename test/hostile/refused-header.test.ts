/**
 * Finding 8 (the header part): an upstream header Node refuses to write made writeHead throw and the client
 * got nothing, logged as 200 stream_error. undici 7 hands over only values Node accepts (every byte 0x00–0xff
 * was tried), so the refused value is added where the response headers are built: the real writeHead then
 * refuses it, the header is dropped with a log line naming it, and the client gets the response.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { validHeaders } from '../../src/proxy/write-head.js';
import { startHostile, type Hostile } from './harness.js';

vi.mock('../../src/proxy/headers.js', async (importOriginal) => {
  const orig = await importOriginal<typeof import('../../src/proxy/headers.js')>();
  return {
    ...orig,
    clientResponseHeaders: (...a: Parameters<typeof orig.clientResponseHeaders>) => ({
      ...orig.clientResponseHeaders(...a),
      'content-disposition': 'attachment; filename="caf\u0100.txt"', // U+0100: Node writes latin1 only
    }),
  };
});

let h: Hostile;
afterEach(async () => {
  vi.restoreAllMocks();
  await h?.close();
});

describe('response headers Node refuses (finding 8)', () => {
  it('the refused header is dropped and named in a log line; the client gets the stream; recorded ok', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    h = await startHostile();
    const res = await h.request('/v1/chat/completions', {
      method: 'POST',
      body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-disposition']).toBeUndefined();
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(await res.body.text()).toContain('data: [DONE]');
    expect(errors).toHaveBeenCalledWith(expect.stringContaining('dropped upstream response header "content-disposition"'));
    expect(String(errors.mock.calls[0][0])).not.toContain('caf'); // never the value
    await h.expectClean(1);
    expect(h.logLines()[0]).toMatchObject({ status: 200, outcome: 'ok' });
  });

  it('validHeaders keeps what Node accepts and names what it does not', () => {
    const dropped: string[] = [];
    const kept = validHeaders({ a: 'ok', b: 'line\nbreak', c: ['x', 'y\u0100'], d: 5, 'bad name': 'v' }, (n) => dropped.push(n));
    expect(kept).toEqual({ a: 'ok', d: 5 });
    expect(dropped).toEqual(['b', 'c', 'bad name']);
  });
});
