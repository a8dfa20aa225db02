/**
 * The Grafana dashboard JSON has what Grafana needs to import it, and the provisioning points at it.
 * (Whether every query returns data is proven against a real Prometheus in prometheus.integration.test.ts.)
 */
import { readFileSync } from 'node:fs';
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
});
