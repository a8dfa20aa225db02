/**
 * Burst against one proxy: 1,000 streams (16 tokens) started at once, 4 rounds after a warm-up round; prints
 * the proxy's CPU per stream and the TTFT p90 of each round. For comparing tokentap with the floor
 * (bench/bare-proxy.mjs) on the burst, which `bench:overhead` runs against nginx only.
 *   npm run build && node bench/burst-floor.mjs dist                  # tokentap (a build directory)
 *   node bench/burst-floor.mjs bench/bare-proxy.mjs                    # the floor
 *   GAP=6000 node bench/burst-floor.mjs dist   # 6 s between rounds: the server has closed the idle upstream connections
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Agent, request } from 'undici';

const target = resolve(process.argv[2] ?? 'dist');
const cli = resolve('dist/cli.js');
const [simPort, port] = [18300, 18301];
const sim = spawn(process.execPath, [cli, 'sim', '--port', String(simPort), '--ttft-ms', '20', '--itl-ms', '10', '--output-tokens', '16'], { stdio: 'ignore' });
const proxy = target.endsWith('.mjs')
  ? spawn(process.execPath, ['--max-semi-space-size=4', target], { stdio: 'ignore', env: { ...process.env, PORT: String(port), UPSTREAM: `http://127.0.0.1:${simPort}` } })
  : spawn(process.execPath, ['--max-semi-space-size=4', `${target}/cli.js`, '--upstream', `http://127.0.0.1:${simPort}`, '--port', String(port), '--metrics-port', String(port + 1), '--log', '/tmp/burst-floor.log', '--host', '127.0.0.1'], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 1500));

const cpuMs = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, 10 ms ticks
};
const body = JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hello there' }] });
const N = 1000;
async function round() {
  const agent = new Agent({ connections: N + 100, pipelining: 0 }); // new client connections every round
  const t0 = performance.now();
  const ttfts = [];
  await Promise.all(
    Array.from({ length: N }, async () => {
      const res = await request(`http://127.0.0.1:${port}/v1/chat/completions`, { method: 'POST', body, dispatcher: agent, headers: { 'content-type': 'application/json' } });
      let first = true;
      for await (const _ of res.body) {
        if (first) ttfts.push(performance.now() - t0);
        first = false;
      }
    }),
  );
  await agent.close();
  return ttfts.sort((a, b) => a - b);
}
const gap = Number(process.env.GAP ?? 300);
await round();
await new Promise((r) => setTimeout(r, gap));
const c0 = cpuMs(proxy.pid);
const p90 = [];
for (let i = 0; i < 4; i++) {
  p90.push((await round())[Math.floor(N * 0.9)].toFixed(0));
  await new Promise((r) => setTimeout(r, gap));
}
console.log(`${process.argv[2] ?? 'dist'}: CPU per stream ${(((cpuMs(proxy.pid) - c0) * 1000) / (4 * N)).toFixed(0)} µs, TTFT p90 per round ${p90.join(' ')} ms`);
proxy.kill();
sim.kill();
