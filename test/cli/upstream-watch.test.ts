/** An upstream that is down at startup: one warning line, /readyz 503, then one line when it comes up. */
import { afterEach, expect, it } from 'vitest';
import { startSimulator, type RunningSim } from '../../src/sim/server.js';
import { freePort } from '../helpers/ports.js';
import { startCli, STARTUP, type CliProcess } from './spawn.js';

let cli: CliProcess | undefined;
let sim: RunningSim | undefined;
afterEach(async () => {
  cli?.child.kill('SIGKILL');
  await sim?.close();
  cli = sim = undefined;
});

const count = (text: string, re: RegExp) => text.match(new RegExp(re.source, 'g'))?.length ?? 0;

for (const workers of [1, 2]) {
  it(`warns once when the upstream is unreachable, says once when it becomes reachable${workers > 1 ? ` (--workers ${workers}: the primary, not each worker)` : ''}`, async () => {
    const port = await freePort();
    const upstream = `http://127.0.0.1:${port}`;
    cli = startCli(['--upstream', upstream, '--host', '127.0.0.1', '--port', '0', '--metrics-host', '127.0.0.1', '--metrics-port', '0', '--log', 'off', '--workers', String(workers)]);
    const [, , metricsUrl] = await cli.waitFor(STARTUP, 15_000);
    await cli.waitFor(/warning/);
    expect(cli.stderr()).toContain(
      `\ntokentap: warning: upstream ${upstream} is not reachable (no TCP connection); tokentap keeps running, /readyz answers 503 and requests get 502 until it is (checking every 2 s)\n`,
    );
    expect((await fetch(`${metricsUrl}/readyz`)).status).toBe(503);
    await new Promise((r) => setTimeout(r, 2500)); // a poll or two: no more lines
    expect(count(cli.stderr(), /warning/)).toBe(1);

    sim = await startSimulator({ host: '127.0.0.1', port });
    await cli.waitFor(/is reachable now/, 5000);
    expect(cli.stderr()).toContain(`\ntokentap: upstream ${upstream} is reachable now; /readyz answers 200\n`);
    expect((await fetch(`${metricsUrl}/readyz`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2500)); // polling stopped: nothing more
    expect(count(cli.stderr(), /reachable/)).toBe(2);
    expect(count(cli.stderr(), /warning/)).toBe(1);
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
  });
}

it('a reachable upstream: no warning', async () => {
  sim = await startSimulator({ host: '127.0.0.1', port: 0 });
  cli = startCli(['--upstream', sim.url, '--host', '127.0.0.1', '--port', '0', '--metrics-host', '127.0.0.1', '--metrics-port', '0', '--log', 'off']);
  await cli.waitFor(STARTUP);
  await new Promise((r) => setTimeout(r, 1500));
  expect(cli.stderr()).not.toMatch(/warning|reachable/);
  cli.child.kill('SIGTERM');
  expect(await cli.exited).toBe(0);
});
