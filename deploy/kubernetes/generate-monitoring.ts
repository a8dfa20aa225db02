/**
 * Generates the Kubernetes copies of the Prometheus rules and the Grafana dashboard:
 *
 *   deploy/prometheus/rules.yml                 -> deploy/kubernetes/monitoring/prometheusrule.yaml
 *                                                  (a Prometheus Operator PrometheusRule; spec.groups = the file's groups)
 *   deploy/grafana/dashboards/tokentap.json     -> deploy/kubernetes/monitoring/grafana-dashboard.yaml
 *                                                  (a ConfigMap labelled grafana_dashboard: "1", the JSON verbatim)
 *
 *   node --experimental-strip-types --no-warnings deploy/kubernetes/generate-monitoring.ts          # write both
 *   node --experimental-strip-types --no-warnings deploy/kubernetes/generate-monitoring.ts --check  # exit 1 if stale
 *
 * Edit the sources, never the generated files; test/kubernetes/monitoring.test.ts fails when they drift.
 * Pure functions plus a small CLI; only `yaml` (a runtime dependency) is imported.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const RULES_SOURCE = 'deploy/prometheus/rules.yml';
export const DASHBOARD_SOURCE = 'deploy/grafana/dashboards/tokentap.json';
export const PROMETHEUS_RULE_OUTPUT = 'deploy/kubernetes/monitoring/prometheusrule.yaml';
export const DASHBOARD_CONFIGMAP_OUTPUT = 'deploy/kubernetes/monitoring/grafana-dashboard.yaml';

const COMMON_LABELS = { 'app.kubernetes.io/name': 'tokentap', 'app.kubernetes.io/component': 'monitoring' };

function header(source: string): string {
  return (
    `# GENERATED from ${source} by deploy/kubernetes/generate-monitoring.ts: do not edit by hand.\n` +
    `# Regenerate: node --experimental-strip-types --no-warnings deploy/kubernetes/generate-monitoring.ts\n`
  );
}

const YAML_OPTIONS = { lineWidth: 0, minContentWidth: 0 } as const;

/** The PrometheusRule manifest (YAML text) for the rules file's text. */
export function prometheusRuleYaml(rulesText: string): string {
  const doc = parse(rulesText) as { groups?: unknown };
  if (!doc || !Array.isArray(doc.groups) || doc.groups.length === 0) throw new Error(`${RULES_SOURCE}: no groups`);
  const manifest = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'tokentap', labels: COMMON_LABELS },
    spec: { groups: doc.groups },
  };
  return header(RULES_SOURCE) + stringify(manifest, YAML_OPTIONS);
}

/** The dashboard ConfigMap (YAML text) for the dashboard file's text, kept byte for byte. */
export function dashboardConfigMapYaml(dashboardText: string): string {
  JSON.parse(dashboardText); // must be JSON
  const manifest = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: 'tokentap-grafana-dashboard',
      labels: { ...COMMON_LABELS, grafana_dashboard: '1' },
      // kube-prometheus-stack's dashboard sidecar files it into this folder when folderAnnotation is set to grafana_folder
      annotations: { grafana_folder: 'tokentap' },
    },
    data: { 'tokentap.json': dashboardText },
  };
  return header(DASHBOARD_SOURCE) + stringify(manifest, YAML_OPTIONS);
}

/** Every generated file: repository-relative path -> expected text. */
export function generatedFiles(root: string = REPO_ROOT): Record<string, string> {
  return {
    [PROMETHEUS_RULE_OUTPUT]: prometheusRuleYaml(readFileSync(`${root}${RULES_SOURCE}`, 'utf8')),
    [DASHBOARD_CONFIGMAP_OUTPUT]: dashboardConfigMapYaml(readFileSync(`${root}${DASHBOARD_SOURCE}`, 'utf8')),
  };
}

function main(argv: string[]): number {
  const check = argv.includes('--check');
  let stale = 0;
  for (const [path, text] of Object.entries(generatedFiles())) {
    let current: string | undefined;
    try {
      current = readFileSync(`${REPO_ROOT}${path}`, 'utf8');
    } catch {
      current = undefined;
    }
    if (current === text) continue;
    if (check) {
      process.stderr.write(`${path} is stale: regenerate it\n`);
      stale++;
    } else {
      writeFileSync(`${REPO_ROOT}${path}`, text);
      process.stderr.write(`wrote ${path}\n`);
    }
  }
  return stale === 0 ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2));
