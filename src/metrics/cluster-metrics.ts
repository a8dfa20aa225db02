/**
 * `--workers N`: the metrics of all workers, served by the primary. Each scrape asks every worker for its
 * registries' values (`getMetricsAsJSON()`, over the cluster's IPC channel) once, and aggregates them with
 * prom-client's AggregatorRegistry.aggregate (a counter or histogram is the exact sum over workers, a gauge
 * uses its aggregator: `tokentap_upstream_up` the min). The classic render is prom-client's render of that
 * aggregate, byte for byte what AggregatorRegistry.clusterMetrics() serves; the OpenMetrics render adds to each
 * bucket of the exemplar histograms the newest exemplar any worker reported for it.
 *
 * Why not clusterMetrics(): it aggregates and renders the classic text in one step, dropping the values'
 * exemplars. The request/answer protocol is tokentap's own (not prom-client's internal message names), so
 * the primary installs no prom-client listener.
 */
import cluster, { type Worker } from 'node:cluster';
import client, { type MetricObjectWithValues, type MetricValue, type PrometheusContentType, type Registry } from 'prom-client';
import type { BucketExemplar } from './exemplar.js';
import { promClientOpenMetrics } from './openmetrics.js';
import { nextTurn, sliceSpent } from './sliced-render.js';

const REQUEST = 'tokentap:metrics-request';
const ANSWER = 'tokentap:metrics-answer';
/** A worker says it answers from now on: a worker still starting (a replacement) is not asked. */
const READY = 'tokentap:metrics-ready';
/** A worker that has not answered by then fails the scrape (prom-client's clusterMetrics waits as long). */
export const WORKER_ANSWER_TIMEOUT_MS = 5000;

/** What one worker reports: each of its registries' `getMetricsAsJSON()`. */
export type WorkerMetrics = MetricObjectWithValues<MetricValue<string>>[];
interface Answer {
  type: typeof ANSWER;
  id: number;
  metrics?: WorkerMetrics[];
  error?: string;
}

/** In a worker: answer the primary's metrics requests with the values of `registers`. The values are built
 * per request in slices (FastHistogram/FastCounter `get()`), nothing per proxied request. */
export function answerMetricsRequests(registers: readonly Registry[]): void {
  process.on('message', (message: { type?: unknown; id?: unknown }) => {
    if (message?.type !== REQUEST || typeof message.id !== 'number') return;
    const id = message.id;
    Promise.all(registers.map((r) => r.getMetricsAsJSON())).then(
      (metrics) => process.send?.({ type: ANSWER, id, metrics } satisfies Answer),
      (err: Error) => process.send?.({ type: ANSWER, id, error: err.message } satisfies Answer),
    );
  });
  process.send?.({ type: READY });
}

/** In the primary: the aggregate of all workers' metrics, one request to every worker per call. */
export function createClusterMetrics() {
  let nextId = 0;
  /** Per request under way: takes a worker's answer, or null when it exited or could not be asked. */
  const pending = new Map<number, (workerId: number, answer: Answer | null) => void>();
  /** The workers that answer (they said READY): a worker still starting would not, and fail the scrape. */
  const ready = new Set<Worker>();
  cluster.on('message', (worker, message: Answer | { type: typeof READY }) => {
    if (message?.type === ANSWER) pending.get(message.id)?.(worker.id, message);
    else if (message?.type === READY) ready.add(worker);
  });
  // A worker that exits meanwhile answers nothing: the scrape goes on without it (its counts are gone
  // anyway), instead of failing after WORKER_ANSWER_TIMEOUT_MS.
  cluster.on('exit', (worker) => {
    ready.delete(worker);
    for (const take of [...pending.values()]) take(worker.id, null);
  });

  /** Every connected worker's registries (one array per registry per worker). */
  const gather = () =>
    new Promise<WorkerMetrics[]>((resolve, reject) => {
      const id = nextId++;
      const responses: WorkerMetrics[] = [];
      const waiting = new Set<number>();
      let timer: NodeJS.Timeout | undefined;
      const done = (err: Error | null) => {
        clearTimeout(timer);
        pending.delete(id);
        if (err === null) resolve(responses);
        else reject(err);
      };
      const take = (workerId: number, answer: Answer | null) => {
        if (!waiting.delete(workerId)) return;
        if (answer?.error !== undefined) return done(new Error(`metrics: a worker failed: ${answer.error}`));
        responses.push(...(answer?.metrics ?? []));
        if (waiting.size === 0) done(null);
      };
      for (const worker of ready) {
        // A worker that exited abruptly may still be listed, unable to answer.
        if (!worker.isConnected()) continue;
        waiting.add(worker.id);
        worker.send({ type: REQUEST, id }, (err) => {
          if (err) take(worker.id, null); // its channel closed meanwhile
        });
      }
      if (waiting.size === 0) return done(null); // no worker up (all restarting): nothing to aggregate
      pending.set(id, take);
      timer = setTimeout(() => done(new Error(`metrics: a worker did not answer within ${WORKER_ANSWER_TIMEOUT_MS / 1000} s`)), WORKER_ANSWER_TIMEOUT_MS);
    });

  return {
    contentType: client.Registry.PROMETHEUS_CONTENT_TYPE,
    /** The classic text of all workers' metrics. */
    exposition: async (): Promise<string> => aggregateClassic(await gather()),
    /** The OpenMetrics 1.0 text of all workers' metrics, with the newest exemplar of each bucket. */
    openMetrics: async (): Promise<string[]> => aggregateOpenMetrics(await gather()),
  };
}

/** The classic text of the workers' reports: prom-client's render of their aggregate, as clusterMetrics()
 * renders it ('' when no worker is up). */
export async function aggregateClassic(responses: readonly WorkerMetrics[]): Promise<string> {
  return responses.length === 0 ? '' : client.AggregatorRegistry.aggregate<PrometheusContentType>([...responses]).metrics();
}

/** The OpenMetrics 1.0 text of the workers' reports, ending in `# EOF`: the same aggregate, each bucket with
 * the newest exemplar any worker reported for it, rendered as a single process renders prom-client's metrics
 * (promClientOpenMetrics: counter families without `_total`). */
export async function aggregateOpenMetrics(responses: readonly WorkerMetrics[]): Promise<string[]> {
  const aggregate = client.AggregatorRegistry.aggregate<PrometheusContentType>([...responses]);
  await attachNewestExemplars(responses, aggregate);
  const text = await promClientOpenMetrics(aggregate);
  return [...(text.trim() === '' ? [] : [text]), '# EOF\n'];
}

/** A value's series within its metric: its sample name and its labels, in name order (workers agree on the
 * values but need not on the order of their labels). */
function seriesKey(metricName: string, labels: Partial<Record<string, string | number>>): string {
  let key = metricName;
  for (const name of Object.keys(labels).sort()) key += `\u0000${name}\u0000${labels[name]}`;
  return key;
}

type ValueWithExemplar = MetricValue<string> & { metricName?: string; exemplar?: BucketExemplar };

/**
 * Gives each value of `aggregate` (AggregatorRegistry.aggregate of `responses`) the newest exemplar (by
 * timestamp) that any worker reported for the same series, where one did: prom-client's OpenMetrics render
 * then writes it after the sample. The exemplars are the workers' own objects, already within OpenMetrics's
 * 128-character limit (exemplarLabels). Sliced, as the primary's event loop also hands connections to workers.
 */
export async function attachNewestExemplars(responses: readonly WorkerMetrics[], aggregate: Registry): Promise<void> {
  const newest = new Map<string, { exemplar: BucketExemplar; at: number }>();
  const names = new Set<string>();
  for (const registry of responses) {
    for (const metric of registry) {
      for (const v of metric.values as ValueWithExemplar[]) {
        const exemplar = v.exemplar;
        if (exemplar === undefined || exemplar === null) continue;
        const key = seriesKey(v.metricName ?? metric.name, v.labels);
        const at = Number(exemplar.timestamp);
        const seen = newest.get(key);
        if (seen === undefined || at > seen.at) newest.set(key, { exemplar, at });
        names.add(metric.name);
      }
      if (sliceSpent()) await nextTurn();
    }
  }
  if (newest.size === 0) return;
  // getMetricsAsArray() is typed as plain objects, but holds the aggregate's metrics (get() and all).
  for (const metric of aggregate.getMetricsAsArray() as unknown as { name: string; get(): Promise<{ values: ValueWithExemplar[] }> }[]) {
    if (!names.has(metric.name)) continue;
    for (const v of (await metric.get()).values) {
      const found = newest.get(seriesKey(v.metricName ?? metric.name, v.labels));
      if (found !== undefined) v.exemplar = found.exemplar;
      if (sliceSpent()) await nextTurn();
    }
  }
}
