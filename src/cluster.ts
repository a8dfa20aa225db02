/**
 * `--workers N`: N proxy processes (node:cluster) sharing one listening port. The primary serves the metrics
 * port with the aggregate of all workers (prom-client's AggregatorRegistry), so a counter equals the sum over
 * workers exactly, and the workers' exemplars in the OpenMetrics format (src/metrics/cluster-metrics.ts). On
 * SIGTERM the primary asks every worker to shut down gracefully and exits 0 when all have.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Config } from './config/schema.js';
import { answerMetricsRequests, createClusterMetrics } from './metrics/cluster-metrics.js';
import { sharedProbe } from './proxy/upstream.js';
import { startMetricsServer, startWithConfig, type RunningTokentap } from './server.js';

/** In a worker: run the proxy without a metrics port, answering the primary's metrics requests. */
export async function startClusterWorker(config: Config): Promise<RunningTokentap> {
  const running = await startWithConfig(config, { serveMetrics: false });
  answerMetricsRequests(running.metrics.registers);
  process.on('SIGTERM', () => void running.close().then(() => process.exit(0)));
  process.on('SIGINT', () => {}); // the primary decides; a terminal's Ctrl-C reaches every process
  return running;
}

export interface ClusterPrimary {
  proxyUrl: string;
  metricsUrl: string;
  close(): Promise<void>;
}

/** In the primary: fork the workers, serve aggregated metrics, restart a worker that dies. */
export async function startClusterPrimary(config: Config, workers: number, env: NodeJS.ProcessEnv): Promise<ClusterPrimary> {
  const aggregate = createClusterMetrics();
  let stopping = false;
  let proxyPort = config.port;
  if (!process.execArgv.some((a) => a.startsWith('--max-semi-space-size'))) {
    cluster.setupPrimary({ execArgv: [...process.execArgv, '--max-semi-space-size=4'] }); // see docs/performance.md
  }
  const fork = () => cluster.fork({ ...env, TOKENTAP_UPSTREAM: config.upstream, TOKENTAP_PORT: String(proxyPort) });
  const listening = (w: Worker) =>
    new Promise<number>((resolve, reject) => {
      w.once('listening', (address) => resolve(address.port));
      w.once('exit', (code) => reject(new Error(`worker exited with code ${code} before listening`)));
    });

  // The first worker picks the port (it may be 0), the others share it.
  const first = fork();
  proxyPort = await listening(first);
  await Promise.all(Array.from({ length: workers - 1 }, () => listening(fork())));
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    process.stderr.write(`tokentap: worker ${worker.process.pid} exited (${signal ?? code}); starting another\n`);
    fork();
  });

  // Both formats, as a single process serves them: OpenMetrics with the newest exemplar per bucket over all
  // workers (src/metrics/cluster-metrics.ts, docs/metrics.md).
  const metrics = await startMetricsServer(
    config,
    aggregate.exposition,
    aggregate.contentType,
    sharedProbe(config.upstream!), // one probe a second, whoever asks /readyz how often
    aggregate.openMetrics,
  );
  const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
  return {
    proxyUrl: `http://${host}:${proxyPort}`,
    metricsUrl: metrics.url,
    close: async () => {
      stopping = true;
      const all = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
      await Promise.all(
        all.map(
          (w) =>
            new Promise<void>((resolve) => {
              if (w.isDead()) return resolve();
              w.once('exit', () => resolve());
              w.process.kill('SIGTERM');
            }),
        ),
      );
      await metrics.close();
    },
  };
}
