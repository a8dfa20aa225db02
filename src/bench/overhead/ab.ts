/**
 * `npm run bench:ab -- --a DIR --b DIR`: CPU per request of two tokentap builds (two `dist/` directories)
 * behind one simulator, alternated in short slices under the same load, so that machine drift hits both
 * alike. A/A runs came out at 0.95-1.0 where separate benchmark runs move by 10-15 %: this is the tool for
 * "what did this change buy" (repeat it for differences under about 5 %).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Agent, request, type Dispatcher } from 'undici';
import { createRng } from '../distributions.js';
import { runLoad } from '../load.js';
import { startBareProxyProc, startSimProc, startTokentapProc, type Proc } from './procs.js';
import { treeCpuNs } from './procstat.js';

const HELP = `Usage: npm run bench:ab -- --a DIR --b DIR [options]
  --a DIR, --b DIR     two builds: directories holding cli.js (e.g. a git worktree's dist/ and ./dist),
                       or bench/bare-proxy.mjs (node:http + undici without metering: the floor)
  --mode M             nonstream (default) | stream | burst (each slice: --burst streams at once on new
                       client connections, then --gap-ms of quiet)
  --rate N             requests/s, open loop with Poisson arrivals (default 3000 for nonstream); 0 = closed loop
  --concurrency N      closed loop: requests in flight (default 128)
  --tokens N           completion tokens per request (default 4)
  --prompt-kb N        prompt size in KB (default 0: one short message)
  --slices N           measured slices per build (default 6)
  --slice-ms N         slice length (default 2500; not for burst)
  --burst N            burst: streams started at once (default 1000)
  --gap-ms N           burst: pause after each burst (default 300; 6000 lets the simulator close the idle
                       upstream connections, so every burst opens them again)
Prints CPU µs per request for each build, B/A over the whole run, and the median and range of B/A over the
slice pairs (a range that straddles 1 means the difference is not shown).`;

interface Side {
  proc: Proc;
  url: string;
  cpuNs: number;
  requests: number;
}

export async function runAb(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      a: { type: 'string' },
      b: { type: 'string' },
      mode: { type: 'string', default: 'nonstream' },
      rate: { type: 'string' },
      concurrency: { type: 'string', default: '128' },
      tokens: { type: 'string', default: '4' },
      'prompt-kb': { type: 'string', default: '0' },
      slices: { type: 'string', default: '6' },
      'slice-ms': { type: 'string', default: '2500' },
      burst: { type: 'string', default: '1000' },
      'gap-ms': { type: 'string', default: '300' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || !values.a || !values.b) {
    process.stdout.write(`${HELP}\n`);
    return values.help ? 0 : 2;
  }
  const burst = values.mode === 'burst' ? Number(values.burst) : 0;
  const stream = values.mode === 'stream' || burst > 0;
  const rate = Number(values.rate ?? (stream ? 0 : 3000));
  const gapMs = Number(values['gap-ms']);
  const concurrency = Number(values.concurrency);
  const slices = Number(values.slices);
  const sliceMs = Number(values['slice-ms']);
  const cli = [values.a, values.b].find((s) => !s.endsWith('.mjs')) ?? 'dist';
  const sim = await startSimProc(`${cli}/cli.js`, { ttftMs: stream ? (burst > 0 ? 20 : 10) : 0, itlMs: stream ? 10 : 0, outputTokens: 64 });
  const sides: Side[] = [];
  for (const side of [values.a, values.b]) {
    const t = side.endsWith('.mjs') ? await startBareProxyProc(side, sim.url) : await startTokentapProc(`${side}/cli.js`, sim.url);
    sides.push({ ...t, cpuNs: 0, requests: 0 });
  }
  const agent = new Agent({ connections: 512 });
  const body = JSON.stringify({
    model: 'm',
    stream,
    max_tokens: Number(values.tokens),
    messages: [{ role: 'user', content: 'hello there '.repeat(Math.max(1, Math.round((Number(values['prompt-kb']) * 1024) / 12))) }],
  });
  const one = async (url: string, dispatcher: Dispatcher) => {
    // A bearer key, as real clients send: with attribution on (user_from: api_key) its key id is derived.
    const headers = { 'content-type': 'application/json', authorization: 'Bearer sk-bench-key' };
    const res = await request(`${url}/v1/chat/completions`, { method: 'POST', body, dispatcher, headers });
    for await (const _ of res.body);
  };
  const rng = createRng(1);
  /** One slice of load on one side (the bench's own load shapes); returns the requests completed. */
  const slice = async (url: string, ms: number): Promise<number> => {
    let done = 0;
    let failure: unknown = null;
    // A burst: all at once, on new client connections (as bench:overhead's burst scenario).
    const dispatcher = burst > 0 ? new Agent({ connections: burst + 100 }) : agent;
    const plan =
      burst > 0
        ? { concurrency: burst, requests: burst, rng }
        : rate > 0
          ? { rate, concurrency: 512, durationMs: ms, rng }
          : { concurrency, durationMs: ms, rng };
    await runLoad(plan, async () => {
      try {
        await one(url, dispatcher);
        done++;
      } catch (err) {
        failure ??= err;
      }
    });
    if (burst > 0) {
      await dispatcher.close();
      await sleep(gapMs);
    }
    if (failure !== null) throw failure;
    return done;
  };
  /** B/A of CPU per request for each pair of adjacent slices: their spread says how far to trust the total. */
  const pairRatios: number[] = [];
  try {
    for (const s of sides) await slice(s.url, 1500); // warm-up: JIT, connection pools
    for (let i = 0; i < slices; i++) {
      const perSlice = new Map<Side, number>();
      for (const s of i % 2 === 0 ? sides : [...sides].reverse()) {
        const c0 = treeCpuNs([s.proc.pid]);
        const n = await slice(s.url, sliceMs);
        const ns = treeCpuNs([s.proc.pid]) - c0;
        s.requests += n;
        s.cpuNs += ns;
        perSlice.set(s, ns / Math.max(1, n));
      }
      pairRatios.push(perSlice.get(sides[1])! / perSlice.get(sides[0])!);
    }
  } finally {
    await agent.close();
    for (const s of sides) await s.proc.stop();
    await sim.proc.stop();
  }
  const per = (s: Side) => s.cpuNs / 1000 / s.requests;
  const [a, b] = sides;
  const sorted = [...pairRatios].sort((x, y) => x - y);
  const median = sorted[Math.floor(sorted.length / 2)];
  process.stdout.write(
    `${values.mode}: A ${per(a).toFixed(1)} µs CPU/request (${a.requests})   B ${per(b).toFixed(1)} µs CPU/request (${b.requests})   B/A ${(per(b) / per(a)).toFixed(3)}` +
      `   (per slice pair: median ${median.toFixed(3)}, ${sorted[0].toFixed(3)}–${sorted[sorted.length - 1].toFixed(3)})\n`,
  );
  return 0;
}
