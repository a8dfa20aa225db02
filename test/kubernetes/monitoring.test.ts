/**
 * deploy/kubernetes/monitoring/: the PrometheusRule and the Grafana dashboard ConfigMap are generated from
 * deploy/prometheus/rules.yml and deploy/grafana/dashboards/tokentap.json by
 * deploy/kubernetes/generate-monitoring.ts; these tests fail when the committed copies drift from their sources.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { ConfigMap } from 'kubernetes-models/v1';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import {
  DASHBOARD_CONFIGMAP_OUTPUT,
  DASHBOARD_SOURCE,
  PROMETHEUS_RULE_OUTPUT,
  REPO_ROOT,
  RULES_SOURCE,
  dashboardConfigMapYaml,
  generatedFiles,
  prometheusRuleYaml,
} from '../../deploy/kubernetes/generate-monitoring.ts';
import { requireBinary, skipWithout } from '../deploy/helpers.ts';

const read = (p: string) => readFileSync(join(REPO_ROOT, p), 'utf8');
const regenerate = 'node --experimental-strip-types --no-warnings deploy/kubernetes/generate-monitoring.ts';

describe('PrometheusRule deploy/kubernetes/monitoring/prometheusrule.yaml', () => {
  const rule = parseYaml(read(PROMETHEUS_RULE_OUTPUT));

  it('is exactly what the generator makes from deploy/prometheus/rules.yml (else run the generator)', () => {
    expect(read(PROMETHEUS_RULE_OUTPUT), `stale: ${regenerate}`).toBe(generatedFiles()[PROMETHEUS_RULE_OUTPUT]);
  });

  it("has the rules file's groups as spec.groups, rule for rule", () => {
    expect(rule.spec.groups).toEqual(parseYaml(read(RULES_SOURCE)).groups);
  });

  it('validates against the Prometheus Operator PrometheusRule schema', () => {
    expect(() => new PrometheusRule(rule).validate()).not.toThrow();
  });

  it('the drift check would catch a changed threshold', () => {
    const changed = read(RULES_SOURCE).replace('expr: vector(0.05)', 'expr: vector(0.07)');
    expect(changed).not.toBe(read(RULES_SOURCE));
    expect(prometheusRuleYaml(changed)).not.toBe(read(PROMETHEUS_RULE_OUTPUT));
  });

  it.skipIf(skipWithout('promtool'))('its spec.groups pass `promtool check rules`', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokentap-k8s-rules-'));
    try {
      const file = join(dir, 'rules.yml');
      writeFileSync(file, stringify({ groups: rule.spec.groups }));
      execFileSync(requireBinary('promtool'), ['check', 'rules', file], { encoding: 'utf8', timeout: 60_000 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Grafana dashboard ConfigMap deploy/kubernetes/monitoring/grafana-dashboard.yaml', () => {
  const cm = parseYaml(read(DASHBOARD_CONFIGMAP_OUTPUT));

  it('is exactly what the generator makes from the dashboard file (else run the generator)', () => {
    expect(read(DASHBOARD_CONFIGMAP_OUTPUT), `stale: ${regenerate}`).toBe(dashboardConfigMapYaml(read(DASHBOARD_SOURCE)));
  });

  it('holds deploy/grafana/dashboards/tokentap.json byte for byte, as one key', () => {
    expect(Object.keys(cm.data)).toEqual(['tokentap.json']);
    expect(cm.data['tokentap.json']).toBe(read(DASHBOARD_SOURCE));
    expect(JSON.parse(cm.data['tokentap.json'])).toEqual(JSON.parse(read(DASHBOARD_SOURCE)));
  });

  it('carries the label the kube-prometheus-stack dashboard sidecar picks up', () => {
    expect(cm.metadata.labels.grafana_dashboard).toBe('1');
  });

  it('validates as a ConfigMap and fits in one (1 MiB), with room for a client-side apply annotation (256 KiB)', () => {
    expect(() => new ConfigMap(cm).validate()).not.toThrow();
    expect(Buffer.byteLength(read(DASHBOARD_CONFIGMAP_OUTPUT))).toBeLessThan(256 * 1024);
  });
});
