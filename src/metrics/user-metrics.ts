/** The per-user metrics of attribution (docs/attribution.md): requests, tokens and cost by (user, model). */
import type { FastCounter } from './fast-counter.js';
import type { FinishedRequest } from './metrics.js';
import { UNKNOWN_MODEL } from './model-label.js';

export type CounterFactory = <L extends string>(name: string, help: string, labelNames: readonly L[]) => FastCounter<L>;

/**
 * The per-user counters (`user_from` set): requests, tokens and cost by (user, model), both labels bounded.
 * The children of one (user, model) pair are bound once, like `series`.
 */
export function userMetrics(counter: CounterFactory, currency: string | undefined) {
  const requests = counter('tokentap_user_requests_total', 'Requests by user (bounded: see max_users) and how they ended.', ['user', 'model', 'outcome']);
  const tokens = counter('tokentap_user_tokens_total', 'Tokens by user (bounded: see max_users), by type: prompt, completion, cached_prompt, reasoning.', [
    'user',
    'model',
    'type',
  ]);
  const cost =
    currency === undefined ? null : counter('tokentap_user_cost_total', `Cost of the requests in ${currency} by user (bounded: see max_users).`, ['user', 'model']);
  const bind = (user: string, model: string) => ({
    requests: new Map<string, ReturnType<typeof requests.labels>>(),
    prompt: tokens.labels(user, model, 'prompt'),
    completion: tokens.labels(user, model, 'completion'),
    cached: tokens.labels(user, model, 'cached_prompt'),
    reasoning: tokens.labels(user, model, 'reasoning'),
    cost: cost?.labels(user, model) ?? null,
  });
  const bound = new Map<string, ReturnType<typeof bind>>();
  return {
    record(r: FinishedRequest): void {
      const user = r.userLabel ?? UNKNOWN_MODEL;
      const key = `${r.model}\u0000${user}`;
      let b = bound.get(key);
      if (b === undefined) bound.set(key, (b = bind(user, r.model)));
      let req = b.requests.get(r.outcome);
      if (req === undefined) b.requests.set(r.outcome, (req = requests.labels(user, r.model, r.outcome)));
      req.inc();
      const rec = r.record;
      if (rec.usage === null) return;
      if (rec.promptTokens !== null) b.prompt.inc(rec.promptTokens);
      // as tokentap_tokens_total counts them: the token events seen live, or the reported usage when larger
      if (rec.completionTokens !== null) b.completion.inc(Math.max(rec.completionTokens, rec.liveCompletionTokens));
      if (rec.cachedTokens) b.cached.inc(rec.cachedTokens);
      if (rec.reasoningTokens) b.reasoning.inc(rec.reasoningTokens);
      if (b.cost !== null && r.cost != null) b.cost.inc(r.cost);
    },
  };
}
