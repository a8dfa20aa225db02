/**
 * `npm run bench:overhead`: direct to the simulator vs through tokentap vs through nginx
 * (`proxy_buffering off`, one worker process: one core against tokentap's one event loop),
 * interleaved in one run on one machine. Each proxy, the simulator and the load generator are
 * separate processes; proxy CPU comes from /proc. Prints tables and one JSON line.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fmt, textTable } from '../report-table.js';
import type { ChildMessage, Job, JobResult, ParentMessage } from './loadgen.js';
import { startOtlpSink, parseTracingRatios, tracingTarget, type OtlpSink } from './otlp-sink.js';
import { nginxVersion, startBareProxyProc, startNginxProc, startSimProc, startTokentapProc, type Proc } from './procs.js';
import { aggregate, measure, scenario, SCENARIOS, type ScenarioName, type Settings, type Target, type TargetFigures } from './scenarios.js';

const HELP = `Usage: npm run bench:overhead -- [options]

  --scenario S       steady | burst | idle-rss | nonstream | all (default all; comma-separated list ok)
  --rounds N         rounds per scenario (default: steady 5, burst 5, idle-rss 1, nonstream 3)
  --streams N        steady: concurrent streams (default 128)
  --chunks N         steady: chunks per stream (default 64)
  --itl-ms N         simulator gap between chunks (default 10)
  --ttft-ms N        simulator time to first token (default 20)
  --burst N          burst: new streams at once (default 1000)
  --open N           idle-rss: streams held open (default 1000)
  --nonstream-concurrency N   (default 32)
  --nonstream-duration S      seconds per round (default 3)
  --targets LIST     direct,tokentap,floor,nginx (default: all available). floor = bench/bare-proxy.mjs,
                     node:http + undici with no metering: what Node alone costs, in the same run
  --workers N        proxy processes: tokentap --workers N and nginx worker_processes N (default 1, to
                     compare one core with one core)
  --tracing LIST     sample ratios, e.g. 1,0.01: one more target per ratio, trace@R = tokentap with tracing
                     on at ratio R, exporting OTLP/HTTP to a local sink (counted, not decoded), in the same
                     rounds as the others (docs/tracing.md#the-cost)
  -h, --help
Needs dist/ (npm run build). nginx is used when installed.`;

const T0 = performance.now();
/** A progress line on stderr, stamped with seconds since the start. */
function note(s: string): void {
  process.stderr.write(`[${((performance.now() - T0) / 1000).toFixed(1).padStart(6)} s] ${s}\n`);
}

class LoadGen {
  private next = 1;
  private waiting = new Map<number, { resolve: (r: JobResult) => void; reject: (e: Error) => void; onHolding?: () => void }>();
  readonly child: ChildProcess;

  constructor(path: string) {
    this.child = fork(path, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m: ChildMessage) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      if (m.type === 'holding') {
        w.onHolding?.();
        this.send({ type: 'release', id: m.id });
        return;
      }
      this.waiting.delete(m.id);
      if (m.type === 'result') w.resolve(m.result);
      else w.reject(new Error(m.message));
    });
  }

  private send(m: ParentMessage): void {
    this.child.send(m);
  }

  run(job: Job, onHolding?: () => void): Promise<JobResult> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, onHolding });
      this.send({ type: 'job', id, job });
    });
  }

  close(): void {
    this.send({ type: 'exit' });
  }
}

function machine(nginx: string | null): Record<string, unknown> {
  const c = cpus();
  return {
    cpu: c[0]?.model ?? 'unknown',
    cores: c.length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    nginx,
  };
}

function num(v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`expected a positive number, got "${v}"`);
  return n;
}

export async function runOverhead(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      scenario: { type: 'string' }, rounds: { type: 'string' }, streams: { type: 'string' }, chunks: { type: 'string' },
      'itl-ms': { type: 'string' }, 'ttft-ms': { type: 'string' }, burst: { type: 'string' }, open: { type: 'string' },
      'nonstream-concurrency': { type: 'string' }, 'nonstream-duration': { type: 'string' }, targets: { type: 'string' },
      workers: { type: 'string' },
      tracing: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const cli = fileURLToPath(new URL('../../cli.js', import.meta.url));
  if (!existsSync(cli)) throw new Error(`${cli} not found: run npm run build first`);
  const names = (v.scenario ?? 'all') === 'all' ? [...SCENARIOS] : (v.scenario ?? '').split(',').map((s) => s.trim() as ScenarioName);
  for (const n of names) if (!SCENARIOS.includes(n)) throw new Error(`unknown scenario "${n}" (${SCENARIOS.join(', ')}, all)`);
  const settings: Settings = {
    rounds: v.rounds !== undefined ? num(v.rounds, 1) : undefined,
    streams: num(v.streams, 128),
    chunks: num(v.chunks, 64),
    itlMs: num(v['itl-ms'], 10),
    ttftMs: num(v['ttft-ms'], 20),
    burst: num(v.burst, 1000),
    open: num(v.open, 1000),
    nonstreamConcurrency: num(v['nonstream-concurrency'], 32),
    nonstreamMs: num(v['nonstream-duration'], 3) * 1000,
  };
  const workers = num(v.workers, 1);
  const ratios = parseTracingRatios(v.tracing);
  const nginx = nginxVersion();
  const wanted = new Set((v.targets ?? 'direct,tokentap,floor,nginx').split(',').map((s) => s.trim()));
  for (const t of wanted) if (!['direct', 'tokentap', 'floor', 'nginx'].includes(t)) throw new Error(`unknown target "${t}" (direct, tokentap, floor, nginx)`);
  const floorScript = fileURLToPath(new URL('../../../bench/bare-proxy.mjs', import.meta.url));
  if (wanted.has('floor') && !existsSync(floorScript)) {
    process.stderr.write(`${floorScript} not found: skipping the floor target\n`);
    wanted.delete('floor');
  }
  if (wanted.has('nginx') && !nginx) {
    process.stderr.write('nginx not installed: skipping the nginx target (apt-get install -y nginx)\n');
    wanted.delete('nginx');
  }
  const info = { ...machine(nginx), workers, tracing: ratios };
  process.stderr.write(`machine: ${JSON.stringify(info)}\n`);
  const gen = new LoadGen(fileURLToPath(new URL('./loadgen.js', import.meta.url)));
  const results: Record<string, TargetFigures[]> = {};
  const procs: Proc[] = [];
  const sinks = new Map<string, OtlpSink>();
  for (const r of ratios) sinks.set(tracingTarget(r), await startOtlpSink());
  const stopAll = async (): Promise<void> => {
    for (const p of procs.splice(0).reverse()) {
      const t = performance.now();
      await p.stop();
      const s = (performance.now() - t) / 1000;
      if (s > 1) note(`${p.name} took ${s.toFixed(1)} s to stop`);
    }
  };
  try {
    for (const name of names) {
      const sc = scenario(name, settings);
      const sim = await startSimProc(cli, sc.sim);
      procs.push(sim.proc);
      const targets: Target[] = [];
      if (wanted.has('direct')) targets.push({ name: 'direct', url: sim.url, pids: [] });
      if (wanted.has('tokentap')) {
        const t = await startTokentapProc(cli, sim.url, workers);
        procs.push(t.proc);
        targets.push({ name: 'tokentap', url: t.url, pids: [t.proc.pid] });
      }
      for (const r of ratios) {
        const target = tracingTarget(r);
        const env = { TOKENTAP_TRACING_ENDPOINT: sinks.get(target)!.url, TOKENTAP_TRACING_SAMPLE_RATIO: String(r), OTEL_TRACES_EXPORTER: '', OTEL_SDK_DISABLED: '' };
        const t = await startTokentapProc(cli, sim.url, workers, env, `tokentap ${target}`);
        procs.push(t.proc);
        targets.push({ name: target, url: t.url, pids: [t.proc.pid] });
      }
      if (wanted.has('floor')) {
        const f = await startBareProxyProc(floorScript, sim.url);
        procs.push(f.proc);
        targets.push({ name: 'floor', url: f.url, pids: [f.proc.pid] });
      }
      if (wanted.has('nginx')) {
        const n = await startNginxProc(sim.url, workers);
        procs.push(n.proc);
        targets.push({ name: 'nginx', url: n.url, pids: [n.proc.pid] });
      }
      note(`${name}: warm-up`);
      for (const t of targets) for (const job of sc.warmup(t.url)) await gen.run(job);
      const byTarget = new Map(targets.map((t) => [t.name, [] as Awaited<ReturnType<typeof measure>>[]]));
      for (let r = 0; r < sc.rounds; r++) {
        const order = targets.map((_, i) => targets[(i + r) % targets.length]);
        for (const t of order) {
          const m = await measure(t, sc.job(t.url), (job, onHolding) => gen.run(job, onHolding));
          byTarget.get(t.name)?.push(m);
          const e = Object.values(m.result.errors).reduce((a, b) => a + b, 0);
          const what = m.result.opened !== undefined ? `${m.result.opened} streams open` : `${m.result.ok} ok`;
          note(`${name}: round ${r + 1}/${sc.rounds} ${t.name}: ${what}, ${e} errors, ${(m.result.elapsedMs / 1000).toFixed(2)} s`);
        }
      }
      results[name] = targets.map((t) => aggregate(t, byTarget.get(t.name) ?? []));
      await stopAll();
    }
  } finally {
    await stopAll();
    gen.close();
    for (const sink of sinks.values()) await sink.close();
  }
  // what each traced target exported (all scenarios): a ratio of 0.01 sends about 1 % of the spans of 1
  const tracing = Object.fromEntries([...sinks].map(([name, sink]) => [name, sink.counts()]));
  if (ratios.length > 0) note(`tracing exports: ${JSON.stringify(tracing)}`);
  process.stdout.write(`${renderOverhead(results, info)}\n`);
  process.stdout.write(`${JSON.stringify({ tokentap_overhead: 1, machine: info, settings, results, ...(ratios.length > 0 ? { tracing } : {}) })}\n`);
  return 0;
}

function added(f: TargetFigures, direct: TargetFigures | undefined, k: 'p50' | 'p90' | 'p99', which: 'ttftMs' | 'e2eMs'): string {
  if (!direct || f.target === 'direct') return '-';
  const a = f[which][k];
  const b = direct[which][k];
  return a === null || b === null ? '-' : `${a - b >= 0 ? '+' : ''}${fmt(a - b, 2)}`;
}

const errs = (f: TargetFigures): string => String(Object.values(f.errors).reduce((a, b) => a + b, 0));

/** The result tables, one per scenario. */
export function renderOverhead(results: Record<string, TargetFigures[]>, info: Record<string, unknown>): string {
  const out: string[] = [`machine: ${info.cores} × ${String(info.cpu)}, ${String(info.memGiB)} GiB, Linux ${String(info.kernel)}, Node ${String(info.node)}, nginx ${String(info.nginx ?? '-')}`];
  for (const [name, figs] of Object.entries(results)) {
    const d = figs.find((f) => f.target === 'direct');
    out.push('');
    if (name === 'steady' || name === 'burst') {
      out.push(name === 'steady' ? 'steady: concurrent streams, TTFT and added TTFT vs direct (ms), chunks/s, proxy CPU per chunk' : 'burst: new streams at once, TTFT (ms)');
      out.push(
        textTable(
          ['target', '', 'streams', 'err', 'TTFT p50', 'p90', 'p99', '+p50', '+p90', '+p99', 'chunks/s', 'CPU µs/chunk', 'CPU cores', 'RSS peak MB'],
          figs.map((f) => [f.target, '', String(f.requests), errs(f), fmt(f.ttftMs.p50, 2), fmt(f.ttftMs.p90, 2), fmt(f.ttftMs.p99, 2),
            added(f, d, 'p50', 'ttftMs'), added(f, d, 'p90', 'ttftMs'), added(f, d, 'p99', 'ttftMs'),
            fmt(f.chunksPerS, 0), fmt(f.cpuUsPerChunk, 2), fmt(f.cpuCores, 2), fmt(f.rssPeakMB, 1)]),
        ),
      );
    } else if (name === 'idle-rss') {
      out.push('idle-rss: RSS of the proxy process(es) before and with N streams open');
      out.push(
        textTable(
          ['target', '', 'open', 'err', 'RSS idle MB', 'RSS open MB', 'KB/stream'],
          figs.map((f) => [f.target, '', String(f.opened ?? '-'), errs(f), fmt(f.rssIdleMB, 1), fmt(f.rssPeakMB, 1), fmt(f.kbPerOpenStream, 1)]),
        ),
      );
    } else {
      out.push('nonstream: small non-streaming requests, closed loop');
      out.push(
        textTable(
          ['target', '', 'requests', 'err', 'req/s', 'E2E p50', 'p99', '+p50', '+p99', 'CPU µs/req', 'CPU cores', 'RSS peak MB'],
          figs.map((f) => [f.target, '', String(f.requests), errs(f), fmt(f.requestsPerS, 0), fmt(f.e2eMs.p50, 2), fmt(f.e2eMs.p99, 2),
            added(f, d, 'p50', 'e2eMs'), added(f, d, 'p99', 'e2eMs'), fmt(f.cpuUsPerRequest, 1), fmt(f.cpuCores, 2), fmt(f.rssPeakMB, 1)]),
        ),
      );
    }
  }
  out.push('');
  out.push('added = target percentile − direct percentile; chunk = SSE event received by the client; CPU = proxy process tree (schedstat); ' +
      'floor = bench/bare-proxy.mjs (node:http + undici, no metering, one process); ' +
      (Array.isArray(info.tracing) && info.tracing.length > 0 ? 'trace@R = tokentap with tracing on at sample ratio R (OTLP/HTTP to a local sink); ' : '') +
      `processes per proxy: tokentap --workers ${String(info.workers ?? 1)}, nginx worker_processes ${String(info.workers ?? 1)}.`);
  return out.join('\n');
}
