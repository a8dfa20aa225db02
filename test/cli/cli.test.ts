/** The built `tokentap` command as a user runs it (dist/cli.js is built by `npm test`'s pretest). */
import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { metricSum } from '../helpers/prom.js';
import { eventually } from '../helpers/wait.js';

const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env }, timeout: 10_000 });

describe('tokentap CLI', () => {
  it('--help and --version', () => {
    const help = run(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--upstream URL/);
    expect(help.stdout).toMatch(/--metrics-port N/);
    expect(run(['--version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('invalid config exits non-zero naming the field, without echoing secrets', () => {
    const bad = run(['--port', 'eighty']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/port/);
    const env = run([], { TOKENTAP_UPSTREAM: 'ftp://user:hunter2@x' });
    expect(env.status).toBe(2);
    expect(env.stderr).toMatch(/upstream: must be an http/);
    expect(env.stderr).not.toContain('hunter2');
    const unknown = run(['--nope']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/--nope/);
  });

  it('with no upstream, starts in front of the built-in simulator and says so; SIGTERM exits 0', async () => {
    const child = spawn(process.execPath, [CLI, '--port', '0', '--metrics-port', '0', '--host', '127.0.0.1', '--metrics-host', '127.0.0.1', '--log', 'off'], {
      env: { PATH: process.env.PATH },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await eventually(() => /metrics at (\S+)\/metrics/.test(stderr), 10_000);
    expect(stderr).toMatch(/no upstream configured — started the built-in simulator/);
    const proxyUrl = /proxying (\S+) ->/.exec(stderr)![1];
    const metricsUrl = /metrics at (\S+)\/metrics/.exec(stderr)![1];
    const res = await fetch(`${proxyUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'cli', max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    const m = await (await fetch(`${metricsUrl}/metrics`)).text();
    expect(metricSum(m, 'tokentap_tokens_total', { model: 'cli', type: 'completion' })).toBe(4);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
