/** The built `tokentap` command as a user runs it (dist/cli.js is built by `npm test`'s pretest). */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { metricSum } from '../helpers/prom.js';
import { freePort } from '../helpers/ports.js';
import { runCli as run, startCli, STARTUP } from './spawn.js';

describe('tokentap CLI', () => {
  it('--help and --version', () => {
    const help = run(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--upstream URL/);
    expect(help.stdout).toMatch(/--demo/);
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

  it('with no upstream, exits 2 naming --upstream, TOKENTAP_UPSTREAM and --demo (no silent simulator)', () => {
    const r = run(['--port', '0', '--metrics-port', '0']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^tokentap: no upstream configured: set --upstream URL or TOKENTAP_UPSTREAM/);
    expect(r.stderr).toMatch(/tokentap --demo/);
    expect(r.stderr).not.toMatch(/proxying|simulator at/);
  });

  it('a misspelled TOKENTAP_* variable exits 2 naming it and the closest known one', () => {
    const r = run(['--port', '0', '--metrics-port', '0'], { TOKENTAP_UPSTRAEM: 'http://127.0.0.1:8000' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown environment variable TOKENTAP_UPSTRAEM (did you mean TOKENTAP_UPSTREAM?)');
    expect(r.stderr).not.toMatch(/no upstream configured|proxying/);
    const grace = run(['--demo', '--port', '0', '--metrics-port', '0'], { TOKENTAP_SHUTDOWN_GRACE_MS: '1s' });
    expect(grace.status).toBe(2);
    expect(grace.stderr).toContain('TOKENTAP_SHUTDOWN_GRACE_MS (did you mean TOKENTAP_SHUTDOWN_GRACE?)');
  });

  it('--demo with an upstream set exits 2: the two contradict each other', () => {
    for (const [args, env, source] of [
      [['--demo', '--upstream', 'http://127.0.0.1:8000'], {}, '--upstream'],
      [['--demo'], { TOKENTAP_UPSTREAM: 'http://127.0.0.1:8000' }, 'TOKENTAP_UPSTREAM'],
    ] as const) {
      const r = run([...args, '--port', '0', '--metrics-port', '0'], env);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`--demo proxies to the built-in simulator, but an upstream is also set (http://127.0.0.1:8000, from ${source})`);
    }
  });

  it('an unwritable --log (missing directory, a directory) exits 2 before anything listens', async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'tokentap-log-'));
    for (const [log, why] of [
      ['/nonexistent/dir/x.log', 'its directory does not exist (ENOENT)'],
      [dir, 'it is a directory (EISDIR)'],
      [join(dir, 'missing', 'x.log'), 'its directory does not exist (ENOENT)'],
    ]) {
      for (const mode of [['--upstream', `http://127.0.0.1:${port}`], ['--demo'], ['--upstream', `http://127.0.0.1:${port}`, '--workers', '2']]) {
        const r = run([...mode, '--host', '127.0.0.1', '--port', String(port), '--metrics-port', '0', '--log', log]);
        expect(r.status).toBe(2);
        expect(r.stderr).toBe(`tokentap: access_log (--log, TOKENTAP_LOG): cannot append to ${log}: ${why}\n`);
      }
    }
    // the same from the environment
    const env = run(['--upstream', `http://127.0.0.1:${port}`, '--port', String(port), '--metrics-port', '0'], { TOKENTAP_LOG: dir });
    expect(env.status).toBe(2);
    expect(env.stderr).toContain(`cannot append to ${dir}: it is a directory`);
  });

  it('--demo serves in front of the built-in simulator and says so; startup lines name the addresses; SIGTERM exits 0', async () => {
    // default hosts (all interfaces); TOKENTAP_BENCH_* (the overhead benchmark's) and TOKENTAP_LOG are known
    const cli = startCli(['--demo', '--port', '0', '--metrics-port', '0'], { TOKENTAP_LOG: 'off', TOKENTAP_BENCH_NODE_FLAGS: ' ' });
    const [, proxyUrl, metricsUrl] = await cli.waitFor(STARTUP);
    await cli.waitFor(/metrics on .*\n/);
    const stderr = cli.stderr();
    expect(stderr).toMatch(/^tokentap: --demo: the upstream is the built-in simulator at http:\/\/127\.0\.0\.1:\d+: answers are generated "lorem ipsum" text, not a model's$/m);
    expect(stderr).toMatch(/^tokentap: --demo: upstream_headers_timeout 30 s, upstream_idle_timeout 10 s \(x-sim-fault: no-headers \/ stall end after them\)$/m);
    expect(stderr).toMatch(/ -> http:\/\/127\.0\.0\.1:\d+ \(demo simulator\); metrics at /);
    const proxyPort = new URL(proxyUrl).port;
    const metricsPort = new URL(metricsUrl).port;
    expect(stderr).toContain(`\ntokentap: proxy on 0.0.0.0:${proxyPort} (all interfaces)\n`);
    expect(stderr).toContain(`\ntokentap: metrics on 0.0.0.0:${metricsPort} (all interfaces, no token)\n`);
    expect(stderr).not.toMatch(/warning/);

    const res = await fetch(`${proxyUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'cli', max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: { message: { content: string } }[] }).choices[0].message.content).toBe('lorem ipsum dolor sit');
    const m = await (await fetch(`${metricsUrl}/metrics`)).text();
    expect(metricSum(m, 'tokentap_tokens_total', { model: 'cli', type: 'completion' })).toBe(4);
    expect((await fetch(`${metricsUrl}/readyz`)).status).toBe(200);
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
  });

  it('startup lines: a loopback proxy, and a metrics port with a token', async () => {
    const cli = startCli(['--demo', '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0', '--log', 'off'], { TOKENTAP_METRICS_TOKEN: 's3cret' });
    const [, proxyUrl, metricsUrl] = await cli.waitFor(STARTUP);
    await cli.waitFor(/metrics on .*\n/);
    expect(cli.stderr()).toContain(`\ntokentap: proxy on 127.0.0.1:${new URL(proxyUrl).port} (this machine only)\n`);
    expect(cli.stderr()).toContain(`\ntokentap: metrics on 0.0.0.0:${new URL(metricsUrl).port} (all interfaces, token required for /metrics)\n`);
    expect(cli.stderr()).not.toContain('s3cret');
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
  });
});
