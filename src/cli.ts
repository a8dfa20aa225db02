#!/usr/bin/env node
/** The `tokentap` command: the proxy (default), `tokentap sim`, `tokentap bench`. */
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, redactUrl } from './config/load.js';
import { startClusterPrimary, startClusterWorker } from './cluster.js';
import { startWithConfig } from './server.js';

const HELP = `tokentap — a transparent metering proxy for OpenAI-compatible inference servers

Usage:
  tokentap [options]            run the proxy
  tokentap sim [options]        run the built-in vLLM-compatible simulator (tokentap sim --help)
  tokentap bench [options]      run a load test (tokentap bench --help)

Options (flags > TOKENTAP_* environment > config file > defaults):
  --config FILE          YAML config file (env TOKENTAP_CONFIG); every field: config.example.yaml
  --upstream URL         OpenAI-compatible server root, e.g. http://127.0.0.1:8000 (env TOKENTAP_UPSTREAM);
                         without one, tokentap starts the built-in simulator and proxies to it
  --host HOST            proxy listen address (default 0.0.0.0)
  --port N               proxy port (default 8080)
  --metrics-host HOST    metrics listen address (default 0.0.0.0)
  --metrics-port N       metrics port: /metrics, /healthz, /readyz (default 9464)
  --log DEST             access log: - (stdout, default), off, or a file path
  --workers N|auto       proxy processes sharing the port (default 1; auto = one per CPU)
  -h, --help             this help
  -v, --version          print the version
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function runProxy(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      upstream: { type: 'string' },
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

  const config = loadConfig({
    file: values.config,
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
    await startClusterWorker(config);
    return;
  }
  const workers = config.workers === 'auto' ? availableParallelism() : config.workers;

  let stopSim: (() => Promise<void>) | undefined;
  if (config.upstream === undefined) {
    const { startSimulator } = await import('./sim/server.js');
    const sim = await startSimulator({ host: '127.0.0.1', port: 0 });
    stopSim = () => sim.close();
    config.upstream = sim.url;
    process.stderr.write(
      `tokentap: no upstream configured — started the built-in simulator at ${sim.url} ` +
        `(set --upstream or TOKENTAP_UPSTREAM to meter a real server)\n`,
    );
  }
  const running = workers > 1 ? await startClusterPrimary(config, workers, process.env) : await startWithConfig(config);
  process.stderr.write(
    `tokentap ${version()}: proxying ${running.proxyUrl} -> ${redactUrl(config.upstream ?? '')}` +
      `${workers > 1 ? ` with ${workers} workers` : ''}; metrics at ${running.metricsUrl}/metrics\n`,
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(
      `tokentap: ${signal}: not accepting new connections; in-flight requests have up to ${config.shutdown_grace} ms\n`,
    );
    await running.close();
    await stopSim?.();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
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
