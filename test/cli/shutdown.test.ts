/**
 * SIGTERM with streams in flight: new connections refused, in-flight streams finish within shutdown_grace, exit 0.
 * A second signal (Ctrl-C twice) cuts them at once, records them and exits 130.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSimulator, type RunningSim } from '../../src/sim/server.js';
import { eventually } from '../helpers/wait.js';

const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;
let sim: RunningSim;
beforeAll(async () => {
  sim = await startSimulator({ port: 0, ttftMs: 10, itlMs: 50 });
});
afterAll(() => sim.close());

function startCli(grace: string, extraArgs: string[] = []) {
  const logFile = join(mkdtempSync(join(tmpdir(), 'tokentap-term-')), 'access.log');
  const child = spawn(
    process.execPath,
    [CLI, '--upstream', sim.url, '--host', '127.0.0.1', '--port', '0', '--metrics-host', '127.0.0.1', '--metrics-port', '0', '--log', logFile, ...extraArgs],
    { env: { PATH: process.env.PATH, TOKENTAP_SHUTDOWN_GRACE: grace } },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = eventually(() => /proxying (\S+) ->/.test(stderr), 10_000).then(() => /proxying (\S+) ->/.exec(stderr)![1]);
  const lines = () => readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { child, exited, ready, lines, stderr: () => stderr };
}

const streamRequest = (proxyUrl: string, tokens: number) =>
  fetch(`${proxyUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'term', stream: true, max_tokens: tokens, messages: [{ role: 'user', content: 'hi' }] }),
  });

it('in-flight streams finish after SIGTERM; new connections are refused; exit 0; all recorded', async () => {
  const cli = startCli('10s');
  const proxyUrl = await cli.ready;
  const responses = await Promise.all([1, 2, 3].map(() => streamRequest(proxyUrl, 20))); // ~1 s each
  const bodies = responses.map((r) => r.text());
  cli.child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 200));
  await expect(fetch(`${proxyUrl}/v1/models`)).rejects.toThrow(); // listener closed
  for (const text of await Promise.all(bodies)) expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
  expect(await cli.exited).toBe(0);
  const lines = cli.lines();
  expect(lines).toHaveLength(3);
  for (const l of lines) expect(l).toMatchObject({ outcome: 'ok', completion_tokens: 20, usage: 'reported' });
});

it('streams still running when shutdown_grace ends are cut and recorded as stream_error', async () => {
  const cli = startCli('300ms');
  const proxyUrl = await cli.ready;
  const res = await streamRequest(proxyUrl, 200); // ~10 s
  const body = res.text().catch((e: Error) => `cut: ${e.message}`);
  cli.child.kill('SIGTERM');
  expect(await cli.exited).toBe(0);
  expect(await body).toMatch(/^cut:/);
  const lines = cli.lines();
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatchObject({ outcome: 'stream_error', status: 200, usage: 'estimated' });
  await eventually(() => sim.stats.active === 0);
});

for (const workers of [1, 2]) {
  it(`Ctrl-C twice with a stream open${workers > 1 ? ` (--workers ${workers})` : ''}: says what it waits for, then stops at once; the stream is recorded as stream_error; exit 130`, async () => {
    const cli = startCli('30s', ['--workers', String(workers)]);
    const proxyUrl = await cli.ready;
    const res = await streamRequest(proxyUrl, 200); // ~10 s
    const body = res.text().catch((e: Error) => `cut: ${e.message}`);
    const t0 = Date.now();
    cli.child.kill('SIGINT');
    const waiting = workers === 1 ? 'draining 1 request' : `draining in-flight requests in ${workers} workers`;
    await eventually(() => cli.stderr().includes(`tokentap: SIGINT: not accepting new connections; ${waiting} (up to 30 s), Ctrl-C again to stop now\n`), 5000);
    await new Promise((r) => setTimeout(r, 300));
    expect(cli.child.exitCode).toBeNull(); // still draining
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(130);
    expect(Date.now() - t0).toBeLessThan(5000); // not the 30 s grace (nor the 10 s stream)
    const cutting = workers === 1 ? 'cutting 1 request' : 'cutting the requests still in flight';
    expect(cli.stderr()).toContain(`tokentap: SIGINT again: stopping now; ${cutting} (recorded as stream_error)\n`);
    expect(await body).toMatch(/^cut:/);
    const lines = cli.lines();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ outcome: 'stream_error', status: 200, usage: 'estimated' });
    await eventually(() => sim.stats.active === 0);
  });
}
