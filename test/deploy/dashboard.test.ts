/**
 * The Grafana dashboard JSON has what Grafana needs to import it, and the provisioning points at it.
 * (Whether every query returns data is proven against a real Prometheus in prometheus.integration.test.ts.)
 */
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { DEPLOY, allPanels, dashboardExprs, loadDashboard, loadRules, variableQueries, type GridPos } from './helpers.js';

const dash = loadDashboard();
const panels = allPanels(dash);
const visual = panels.filter((p) => p.type !== 'row');

describe('Grafana dashboard deploy/grafana/dashboards/tokentap.json', () => {
  it('has a uid, a title and a schemaVersion', () => {
    expect(dash.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(dash.title).toBeTruthy();
    expect(dash.schemaVersion).toBeGreaterThanOrEqual(36);
  });

  it('every panel has a unique id, a type, a title and a gridPos inside the 24-column grid', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) {
      expect(p.id, `panel ${p.title}`).toBeTypeOf('number');
      expect(p.type, `panel ${p.title}`).toBeTruthy();
      expect(p.title).toBeTruthy();
      const g = p.gridPos as GridPos;
      expect(g, `panel ${p.title} gridPos`).toBeDefined();
      for (const k of ['x', 'y', 'w', 'h'] as const) expect(Number.isInteger(g[k]), `panel ${p.title} gridPos.${k}`).toBe(true);
      expect(g.w).toBeGreaterThan(0);
      expect(g.h).toBeGreaterThan(0);
      expect(g.x + g.w, `panel ${p.title} overflows the grid`).toBeLessThanOrEqual(24);
    }
  });

  it('no two panels overlap', () => {
    const overlaps: string[] = [];
    for (let i = 0; i < panels.length; i++) {
      for (let j = i + 1; j < panels.length; j++) {
        const a = panels[i].gridPos as GridPos;
        const b = panels[j].gridPos as GridPos;
        if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) overlaps.push(`${panels[i].title} / ${panels[j].title}`);
      }
    }
    expect(overlaps).toEqual([]);
  });

  it('every non-row panel has a Prometheus datasource and targets with refId, expr and datasource', () => {
    for (const p of visual) {
      expect(p.datasource, `panel ${p.title}`).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets?.length, `panel ${p.title} has no targets`).toBeGreaterThan(0);
      const refIds = p.targets!.map((t) => t.refId);
      expect(new Set(refIds).size, `panel ${p.title}: duplicate refId`).toBe(refIds.length);
      for (const t of p.targets!) {
        expect(t.refId, `panel ${p.title}`).toMatch(/^[A-Z]$/);
        expect(t.expr?.trim(), `panel ${p.title} / ${t.refId}`).toBeTruthy();
        expect(t.datasource, `panel ${p.title} / ${t.refId}`).toEqual({ type: 'prometheus', uid: '${datasource}' });
      }
    }
  });

  it('has the template variables datasource, instance and model, with `.*` as the All value', () => {
    const vars = dash.templating?.list ?? [];
    expect(vars.map((v) => v.name)).toEqual(expect.arrayContaining(['datasource', 'instance', 'model']));
    expect(vars.find((v) => v.name === 'datasource')?.type).toBe('datasource');
    for (const name of ['instance', 'model']) expect(vars.find((v) => v.name === name)?.allValue).toBe('.*');
    expect(variableQueries(dash).map((q) => q.label).sort()).toEqual(['instance', 'model']);
  });

  it('every tokentap query filters by $model and $instance, every vLLM query by $model; GPU queries keep the gpu label', () => {
    const unfiltered = dashboardExprs(dash).filter(({ expr }) => {
      if (/^tokentap:threshold:/.test(expr)) return false; // constant threshold lines
      // GPUs serve every model: no model filter, but one series per GPU (DCGM's gpu label, or the recorded ratio that keeps it).
      if (/DCGM_FI_|^gpu:dcgm_/.test(expr)) return !(/^gpu:dcgm_/.test(expr) || /by \([^)]*\bgpu\b/.test(expr));
      if (expr.includes('vllm:')) return !/model_name=~"\$model"/.test(expr);
      return !(expr.includes('model=~"$model"') && expr.includes('instance=~"$instance"'));
    });
    expect(unfiltered).toEqual([]);
  });

  it('has the panels the issue asks for', () => {
    const titles = visual.map((p) => p.title ?? '');
    for (const want of [
      /request rate by outcome/i,
      /^error ratio$/i,
      /^in flight$/i,
      /time to first token p50 \/ p95 \/ p99/i,
      /time to first content/i,
      /time per output token p50 \/ p95/i,
      /inter-token latency p50 \/ p99/i,
      /end-to-end latency p50 \/ p95 \/ p99/i,
      /tokens \/ s by type/i,
      /estimated-usage share/i,
      /ttft: tokentap vs vllm/i,
    ]) {
      expect(titles.some((t) => want.test(t)), `no panel matching ${want}`).toBe(true);
    }
    expect(visual.filter((p) => p.type === 'heatmap')).toHaveLength(2);
    const vllmTtft = visual.find((p) => /ttft: tokentap vs vllm/i.test(p.title ?? ''))!;
    const exprs = vllmTtft.targets!.map((t) => t.expr ?? '');
    expect(exprs.some((e) => e.includes('vllm:time_to_first_token_seconds_bucket'))).toBe(true);
    expect(exprs.some((e) => e.includes('tokentap_time_to_first_token_seconds'))).toBe(true);
  });
});

describe('the "GPU and engine" row', () => {
  const rowIndex = (dash.panels ?? []).findIndex((p) => p.type === 'row' && /^GPU and engine/.test(p.title ?? ''));
  const nextRow = (dash.panels ?? []).findIndex((p, i) => i > rowIndex && p.type === 'row');
  const row = (dash.panels ?? []).slice(rowIndex + 1, nextRow < 0 ? undefined : nextRow);
  const exprsOf = (title: RegExp) => {
    const p = row.find((q) => title.test(q.title ?? ''));
    expect(p, `no panel matching ${title} in the GPU and engine row`).toBeDefined();
    return p!.targets!.map((t) => t.expr ?? '');
  };

  it('exists, after the proxy rows', () => {
    expect(rowIndex).toBeGreaterThan(0);
    expect(row.length).toBeGreaterThanOrEqual(8);
  });

  it('has the DCGM panels: utilisation, framebuffer used of total, power, temperature', () => {
    expect(exprsOf(/^GPU utilisation$/).join()).toContain('DCGM_FI_DEV_GPU_UTIL');
    expect(exprsOf(/^GPU memory used/)).toContain('gpu:dcgm_fi_dev_fb_used:ratio');
    expect(loadRules().groups.flatMap((g) => g.rules).find((r) => r.record === 'gpu:dcgm_fi_dev_fb_used:ratio')?.expr).toBe(
      'DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)',
    );
    expect(exprsOf(/^GPU power$/).join()).toContain('DCGM_FI_DEV_POWER_USAGE');
    expect(exprsOf(/^GPU temperature$/).join()).toContain('DCGM_FI_DEV_GPU_TEMP');
  });

  it('has the vLLM panels: KV cache, running / waiting, queue time', () => {
    expect(exprsOf(/KV-cache usage/).join()).toContain('vllm:kv_cache_usage_perc');
    const rw = exprsOf(/requests running \/ waiting/).join();
    expect(rw).toContain('vllm:num_requests_running');
    expect(rw).toContain('vllm:num_requests_waiting');
    expect(exprsOf(/queue time p50 \/ p95/).join()).toContain('vllm:request_queue_time_seconds_bucket');
  });

  it('"time outside the engine" subtracts quantiles of per-model bucket sums, joining model_name to model', () => {
    const exprs = exprsOf(/^Time outside the engine/).filter((e) => !e.startsWith('tokentap:threshold:'));
    expect(exprs).toHaveLength(2);
    for (const [e, q] of [[exprs[0], '0.50'], [exprs[1], '0.95']]) {
      // histogram_quantile(q, sum by (model, le) (rate(…tokentap…))) - on (model) histogram_quantile(q, sum by (model, le) (label_replace(rate(vllm…), "model", …, "model_name", …)))
      const [tap, vllm] = e.split(/\n\s*- on \(model\)\n/);
      expect(tap).toMatch(new RegExp(`^histogram_quantile\\(${q}, sum by \\(model, le\\) \\(rate\\(tokentap_time_to_first_token_seconds_bucket`));
      expect(vllm).toMatch(new RegExp(`^histogram_quantile\\(${q}, sum by \\(model, le\\) \\(label_replace\\(rate\\(vllm:time_to_first_token_seconds_bucket`));
      expect(vllm).toContain('"model", "$1", "model_name", "(.+)"');
    }
  });
});

describe('the "Usage" row', () => {
  const rowIndex = (dash.panels ?? []).findIndex((p) => p.type === 'row' && /^Usage\b/.test(p.title ?? ''));
  const nextRow = (dash.panels ?? []).findIndex((p, i) => i > rowIndex && p.type === 'row');
  const row = (dash.panels ?? []).slice(rowIndex + 1, nextRow < 0 ? undefined : nextRow);
  const exprsOf = (title: RegExp) => {
    const p = row.find((q) => title.test(q.title ?? ''));
    expect(p, `no panel matching ${title} in the Usage row`).toBeDefined();
    return p!.targets!.map((t) => t.expr ?? '');
  };
  // prompt already includes cached_prompt, completion includes reasoning: a user's tokens are prompt + completion
  const promptAndCompletion = 'type=~"prompt|completion"';

  it('exists, after the Tokens row and before the vLLM comparison', () => {
    const titles = (dash.panels ?? []).filter((p) => p.type === 'row').map((p) => p.title ?? '');
    expect(titles.findIndex((t) => /^Usage\b/.test(t))).toBe(titles.findIndex((t) => t === 'Tokens') + 1);
    expect(row.length).toBeGreaterThanOrEqual(4);
  });

  it('top users by tokens and by cost: topk over per-user rates of tokentap_user_tokens_total and tokentap_user_cost_total', () => {
    const [tokens] = exprsOf(/^Top users by tokens/);
    expect(tokens).toMatch(/^topk\(10, sum by \(user\) \(rate\(tokentap_user_tokens_total\{[^}]*\}\[\$__rate_interval\]\)\)\)$/);
    expect(tokens).toContain(promptAndCompletion);
    const [cost] = exprsOf(/^Top users by cost/);
    expect(cost).toMatch(/^topk\(10, sum by \(user\) \(rate\(tokentap_user_cost_total\{[^}]*\}\[\$__rate_interval\]\)\)\)/);
  });

  it('cost per model over time (tokentap_cost_total) and unpriced requests (tokentap_cost_unpriced_requests_total)', () => {
    expect(exprsOf(/^Cost per model/).join()).toMatch(/sum by \(model\) \(rate\(tokentap_cost_total\{/);
    expect(exprsOf(/^Unpriced requests/).join()).toMatch(/sum by \(model\) \(rate\(tokentap_cost_unpriced_requests_total\{/);
  });

  it('per-user totals over the dashboard range are instant queries (exact topk), tokens counted as prompt + completion', () => {
    for (const title of [/^Tokens by user \(time range\)$/, /^Cost by user \(time range\)$/]) {
      const p = row.find((q) => title.test(q.title ?? ''))!;
      expect(p, `${title}`).toBeDefined();
      expect(p.targets![0]).toMatchObject({ instant: true, range: false });
      expect(p.targets![0].expr).toContain('[$__range]');
    }
    expect(exprsOf(/^Tokens by user/).join()).toContain(promptAndCompletion);
  });

  it('every per-user token query counts prompt + completion only, never every type', () => {
    const userTokenExprs = dashboardExprs(dash).filter((e) => e.expr.includes('tokentap_user_tokens_total'));
    expect(userTokenExprs.length).toBeGreaterThanOrEqual(2);
    for (const e of userTokenExprs) expect(e.expr, e.source).toContain(promptAndCompletion);
    const recorded = loadRules().groups.flatMap((g) => g.rules).find((r) => r.record === 'user:tokentap_user_tokens:rate5m');
    expect(recorded?.expr).toContain(promptAndCompletion);
  });
});

describe('exemplars', () => {
  const panel = (title: RegExp) => visual.find((p) => title.test(p.title ?? ''))!;

  for (const [title, metric] of [
    [/^Time to first token p50 \/ p95 \/ p99$/, 'tokentap_time_to_first_token_seconds_bucket'],
    [/^End-to-end latency p50 \/ p95 \/ p99$/, 'tokentap_request_duration_seconds_bucket'],
  ] as const) {
    it(`"${title.source}" has exactly one target with exemplar: true, and it reads the raw ${metric}`, () => {
      const p = panel(title);
      expect(p, `${title}`).toBeDefined();
      const withExemplars = p.targets!.filter((t) => t.exemplar === true);
      // one: the exemplars of a panel are the same points whichever target asks, so two would draw them twice
      expect(withExemplars).toHaveLength(1);
      // recorded series (instance_model:…) carry no exemplars: the target must select the histogram itself
      expect(withExemplars[0].expr).toMatch(new RegExp(`^histogram_quantile\\(0\\.95, sum by \\(job, instance, model, le\\) \\(rate\\(${metric}\\{`));
    });
  }

  it('only tokentap histogram buckets are asked for exemplars (nothing else has them)', () => {
    const flagged = visual.flatMap((p) => (p.targets ?? []).filter((t) => t.exemplar).map((t) => t.expr ?? ''));
    for (const e of flagged) expect(e).toMatch(/tokentap_(time_to_first_token|request_duration)_seconds_bucket\{/);
  });
});

describe('Grafana provisioning', () => {
  it('the datasource provisioning defines the Prometheus the dashboard defaults to', () => {
    const ds = parseYaml(readFileSync(`${DEPLOY}grafana/provisioning/datasources/prometheus.yml`, 'utf8')) as {
      datasources: { uid: string; type: string; url: string }[];
    };
    const current = (dash.templating?.list ?? []).find((v) => v.name === 'datasource') as unknown as { current: { value: string } };
    expect(ds.datasources).toContainEqual(expect.objectContaining({ type: 'prometheus', uid: current.current.value, url: 'http://prometheus:9090' }));
  });

  it('the dashboard provider loads the directory docker-compose mounts the JSON into', () => {
    const prov = parseYaml(readFileSync(`${DEPLOY}grafana/provisioning/dashboards/tokentap.yml`, 'utf8')) as {
      providers: { type: string; options: { path: string } }[];
    };
    const compose = readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8');
    const path = prov.providers[0].options.path;
    expect(compose).toContain(`./deploy/grafana/dashboards:${path}:ro`);
  });

  const datasources = () =>
    readdirSync(`${DEPLOY}grafana/provisioning/datasources`)
      .filter((f) => f.endsWith('.yml'))
      .flatMap((f) => {
        const text = readFileSync(`${DEPLOY}grafana/provisioning/datasources/${f}`, 'utf8');
        return (parseYaml(text) as { datasources: Datasource[] }).datasources.map((d) => ({ ...d, file: f, text }));
      });

  it("the Prometheus data source links an exemplar's trace_id to the provisioned Jaeger data source", () => {
    const all = datasources();
    const prom = all.find((d) => d.type === 'prometheus')!;
    const dest = prom.jsonData?.exemplarTraceIdDestinations ?? [];
    expect(dest).toHaveLength(1);
    // the exemplar label tokentap sets (docs/spec: request_id and trace_id)
    expect(dest[0].name).toBe('trace_id');
    const jaeger = all.find((d) => d.uid === dest[0].datasourceUid);
    expect(jaeger, `no data source with uid ${dest[0].datasourceUid}`).toMatchObject({ type: 'jaeger', url: 'http://jaeger:16686', access: 'proxy' });
  });

  it("Grafana's own ${__value.raw} is escaped as $${…} (provisioning expands ${VAR} from the environment)", () => {
    for (const { text: _, ...d } of datasources()) expect(JSON.stringify(d).replace(/\$\$/g, ''), d.file).not.toMatch(/\$\{/);
    const label = datasources().find((d) => d.type === 'prometheus')!.jsonData!.exemplarTraceIdDestinations![0].urlDisplayLabel;
    expect(label).toContain('$${__value.raw}');
  });

  it('uids are unique across the provisioning files, and the Jaeger service exists in every compose profile', () => {
    const uids = datasources().map((d) => d.uid);
    expect(new Set(uids).size).toBe(uids.length);
    const compose = parseYaml(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8'), { merge: true }) as {
      services: Record<string, { profiles?: string[]; ports?: string[] }>;
    };
    expect(compose.services.jaeger.profiles).toEqual(expect.arrayContaining(['demo', 'gpu']));
    expect(compose.services.jaeger.ports!.some((p) => p.endsWith(':16686:16686'))).toBe(true);
  });
});

interface Datasource {
  name: string;
  uid: string;
  type: string;
  url: string;
  access?: string;
  jsonData?: { exemplarTraceIdDestinations?: { name: string; datasourceUid: string; urlDisplayLabel?: string }[] };
}
