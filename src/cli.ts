#!/usr/bin/env node
/** The `tokentap` command: the proxy (default), `tokentap sim`, `tokentap bench`. */
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, redactUrl } from './config/load.js';
import type { Config } from './config/schema.js';
import { startClusterPrimary, startClusterWorker, type ClusterPrimary } from './cluster.js';
import { checkAccessLog } from './log/access-log.js';
import { probeUpstream } from './proxy/upstream.js';
import { startWithConfig, type RunningTokentap } from './server.js';
import { attributionSummary } from './usage/attribution.js';
import { resolveTracing } from './trace/settings.js';

const HELP = `tokentap — a transparent metering proxy for OpenAI-compatible inference servers

Usage:
  tokentap --upstream URL [options]   run the proxy in front of URL
  tokentap --demo [options]           run the proxy in front of the built-in simulator (fake "lorem ipsum" answers)
  tokentap sim [options]              run the built-in vLLM-compatible simulator (tokentap sim --help)
  tokentap bench [options]            run a load test (tokentap bench --help)
  tokentap usage [options] FILE...    usage report from access logs (tokentap usage --help)

Options (flags > TOKENTAP_* environment > config file > defaults):
  --config FILE          YAML config file (env TOKENTAP_CONFIG); every field: config.example.yaml
  --upstream URL         OpenAI-compatible server root, e.g. http://127.0.0.1:8000 (env TOKENTAP_UPSTREAM);
                         required unless --demo
  --demo                 start the built-in simulator and proxy to it, to try tokentap without a model server;
                         an error if an upstream is also set. Unless configured, upstream_headers_timeout is
                         30s and upstream_idle_timeout 10s (x-sim-fault: no-headers / stall end after them)
  --host HOST            proxy listen address (default 0.0.0.0: all interfaces)
  --port N               proxy port (default 8080)
  --metrics-host HOST    metrics listen address (default 0.0.0.0: all interfaces)
  --metrics-port N       metrics port: /metrics, /healthz, /readyz (default 9464; /metrics is open unless
                         metrics_token / TOKENTAP_METRICS_TOKEN is set)
  --log DEST             access log: - (stdout, default), off, or a file path (appended; must be writable)
  --workers N|auto       proxy processes sharing the port (default 1; auto = one per CPU)
  -h, --help             this help
  -v, --version          print the version

Every config field can be set as TOKENTAP_<FIELD> (e.g. TOKENTAP_SHUTDOWN_GRACE=10s); any other TOKENTAP_*
variable is an error. SIGINT/SIGTERM: stop accepting, let in-flight requests finish for up to
shutdown_grace (default 30s), exit 0; a second signal cuts them at once (exit 130 / 143).
Tracing (OpenTelemetry spans over OTLP/HTTP) is off unless tracing_endpoint or OTEL_EXPORTER_OTLP_ENDPOINT
is set; the standard OTEL_* variables apply (docs/tracing.md).
`;

/** `--demo`'s defaults (below the config file, env and flags): the simulator's stall and no-headers faults
 * end after these instead of the production 300 s / 600 s. */
const DEMO_DEFAULTS = { upstream_headers_timeout: '30s', upstream_idle_timeout: '10s' };

/** How often an unreachable upstream is probed again after startup, until it answers. */
const REACHABILITY_POLL_MS = 2000;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const say = (line: string) => void process.stderr.write(`${line}\n`);

/** 30000 -> "30 s", 1500 -> "1.5 s", 300 -> "300 ms". */
function formatMs(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** "0.0.0.0:8080 (all interfaces)": where a server listens, for the startup lines. */
function listenAddress(host: string, url: string): { address: string; scope: string } {
  const u = new URL(url);
  const port = Number(u.port) || 80;
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const scope =
    host === '0.0.0.0' || host === '::' ? 'all interfaces'
    : /^127\./.test(host) || host === '::1' || host === 'localhost' ? 'this machine only'
    : 'this address only';
  return { address, scope };
}

/** Where --upstream came from, for the --demo conflict message. */
function upstreamSource(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag !== undefined) return '--upstream';
  if (env.TOKENTAP_UPSTREAM) return 'TOKENTAP_UPSTREAM';
  return 'the config file';
}

/**
 * After startup: if the upstream takes no TCP connection, one warning line; then a probe every
 * REACHABILITY_POLL_MS until it does, and one line saying so. Silent when it is reachable at once.
 */
function watchUpstream(url: string): { stop(): void } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const shown = redactUrl(url);
  const check = async (first: boolean) => {
    const ok = await probeUpstream(url);
    if (stopped) return;
    if (ok) {
      if (!first) say(`tokentap: upstream ${shown} is reachable now; /readyz answers 200`);
      return;
    }
    if (first) {
      say(
        `tokentap: warning: upstream ${shown} is not reachable (no TCP connection); tokentap keeps running, ` +
          `/readyz answers 503 and requests get 502 until it is (checking every ${formatMs(REACHABILITY_POLL_MS)})`,
      );
    }
    timer = setTimeout(() => void check(false), REACHABILITY_POLL_MS);
    timer.unref();
  };
  void check(true);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

async function runProxy(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      upstream: { type: 'string' },
      demo: { type: 'boolean' },
      host: { type: 'string' },
      port: { type: 'string' },
      'metrics-host': { type: 'string' },
      'metrics-port': { type: 'string' },
      log: { type: 'string' },
      workers: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
    strict: true,
  });
  if (values.help) return void process.stdout.write(HELP);
  if (values.version) return void process.stdout.write(`${version()}\n`);

  const demo = values.demo === true;
  const config = loadConfig({
    file: values.config,
    defaults: demo ? DEMO_DEFAULTS : {},
    flags: {
      upstream: values.upstream,
      host: values.host,
      port: values.port,
      metrics_host: values['metrics-host'],
      metrics_port: values['metrics-port'],
      access_log: values.log,
      workers: values.workers,
    },
  });
  if (cluster.isWorker) {
    // The primary checked everything, started the simulator under --demo and set TOKENTAP_UPSTREAM.
    const running = await startClusterWorker(config);
    // The primary sends a second SIGTERM when told to stop now (cluster.ts handles the first).
    let terms = 0;
    process.on('SIGTERM', () => void (++terms === 2 && running.close({ now: true })));
    return;
  }

  if (demo && config.upstream !== undefined) {
    throw new ConfigError(
      `--demo proxies to the built-in simulator, but an upstream is also set (${redactUrl(config.upstream)}, from ` +
        `${upstreamSource(values.upstream, process.env)}): drop --demo to meter that server, or unset the upstream ` +
        `to try the simulator (npm start adds --demo: run \`npx tokentap --upstream URL\` instead)`,
    );
  }
  if (!demo && config.upstream === undefined) {
    throw new ConfigError(
      'no upstream configured: set --upstream URL or TOKENTAP_UPSTREAM (or upstream: in the --config file) to the ' +
        'root of the OpenAI-compatible server to meter, e.g. --upstream http://127.0.0.1:8000;\n' +
        '  or run tokentap --demo to try it in front of the built-in simulator (fake "lorem ipsum" answers)',
    );
  }
  checkAccessLog(config.access_log); // before anything listens
  const workers = config.workers === 'auto' ? availableParallelism() : config.workers;

  let stopSim: (() => Promise<void>) | undefined;
  if (demo) {
    const { startSimulator } = await import('./sim/server.js');
    const sim = await startSimulator({ host: '127.0.0.1', port: 0 });
    stopSim = () => sim.close();
    config.upstream = sim.url;
    say(`tokentap: --demo: the upstream is the built-in simulator at ${sim.url}: answers are generated "lorem ipsum" text, not a model's`);
    say(
      `tokentap: --demo: upstream_headers_timeout ${formatMs(config.upstream_headers_timeout)}, ` +
        `upstream_idle_timeout ${formatMs(config.upstream_idle_timeout)} (x-sim-fault: no-headers / stall end after them)`,
    );
  }
  const upstream = config.upstream!;
  const running: RunningTokentap | ClusterPrimary =
    workers > 1 ? await startClusterPrimary(config, workers, process.env) : await startWithConfig(config);
  printStartup(config, running, workers, demo);
  const watch = watchUpstream(upstream);
  handleSignals(config, running, workers, async () => {
    watch.stop();
    await stopSim?.();
  });
}

function printStartup(config: Config, running: RunningTokentap | ClusterPrimary, workers: number, demo: boolean): void {
  const proxy = listenAddress(config.host, running.proxyUrl);
  const metrics = listenAddress(config.metrics_host, running.metricsUrl);
  const token = config.metrics_token === undefined ? 'no token' : 'token required for /metrics';
  say(
    `tokentap ${version()}: proxying ${running.proxyUrl} -> ${redactUrl(config.upstream ?? '')}${demo ? ' (demo simulator)' : ''}` +
      `${workers > 1 ? ` with ${workers} workers` : ''}; metrics at ${running.metricsUrl}/metrics`,
  );
  say(`tokentap: proxy on ${proxy.address} (${proxy.scope})`);
  say(`tokentap: metrics on ${metrics.address} (${metrics.scope}, ${token})`);
  const attribution = attributionSummary(config);
  if (attribution !== null) say(`tokentap: ${attribution}`);
  const tracing = resolveTracing(config, process.env);
  for (const w of tracing.warnings) say(`tokentap: tracing: warning: ${w}`);
  const t = tracing.settings;
  if (t !== null) {
    say(
      `tokentap: tracing: spans of service ${t.serviceName} to ${redactUrl(t.url)} (OTLP/HTTP, from ${t.urlSource}), ` +
        `sampler ${t.sampler.name}${workers > 1 ? ', each worker exports its own' : ''}`,
    );
  }
}

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * First SIGINT/SIGTERM: stop accepting and drain for up to shutdown_grace, then exit 0. Second: cut the
 * requests still running now (recorded as stream_error; the access log is flushed), exit 128 + signal.
 * Third: exit at once.
 */
function handleSignals(config: Config, running: RunningTokentap | ClusterPrimary, workers: number, cleanup: () => Promise<void>): void {
  let signals = 0;
  let exitCode = 0;
  const again = (signal: string) => (signal === 'SIGINT' ? 'Ctrl-C again' : `${signal} again`);
  const inFlight = () => ('active' in running ? running.active.size : undefined);
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      const n = inFlight();
      const grace = formatMs(config.shutdown_grace);
      if (n === 0) say(`tokentap: ${signal}: no requests in flight; stopping`);
      else {
        const what = n === undefined ? `in-flight requests in ${workers} workers` : plural(n, 'request');
        say(`tokentap: ${signal}: not accepting new connections; draining ${what} (up to ${grace}), ${again(signal)} to stop now`);
      }
      void running
        .close()
        .then(cleanup)
        .then(() => process.exit(exitCode));
    } else if (signals === 2) {
      exitCode = SIGNAL_EXIT[signal] ?? 1;
      const n = inFlight();
      const what = n === undefined ? 'the requests still in flight' : plural(n, 'request');
      say(`tokentap: ${signal} again: stopping now; cutting ${what} (recorded as stream_error)`);
      if ('active' in running) void running.close({ now: true });
      else for (const w of Object.values(cluster.workers ?? {})) if (w && !w.isDead()) w.process.kill('SIGTERM');
    } else process.exit(exitCode);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'sim') {
    const { runSimCli } = await import('./sim/cli.js');
    const sim = await runSimCli(rest);
    const stop = () => void sim.close().then(() => process.exit(0));
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    return;
  }
  if (command === 'bench') {
    const { runBenchCli } = await import('./bench/cli.js');
    process.exitCode = await runBenchCli(rest);
    return;
  }
  if (command === 'usage') {
    const { runUsageCli } = await import('./report/cli.js');
    process.exitCode = await runUsageCli(rest);
    return;
  }
  await runProxy(argv);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) process.stderr.write(`tokentap: ${err.message}\n`);
  else if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`tokentap: ${(err as Error).message}\n(see tokentap --help)\n`);
  } else if ((err as { code?: string }).code === 'EADDRINUSE') {
    process.stderr.write(`tokentap: ${(err as Error).message}: is another process using that port?\n`);
  } else process.stderr.write(`tokentap: ${(err as Error)?.stack ?? err}\n`);
  process.exit(2);
});
