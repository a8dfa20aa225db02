/** Shared by the deploy tests: repository paths, required binaries, PromQL extraction from the dashboard and rules. */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const DEPLOY = `${REPO}deploy/`;
export const DASHBOARD_PATH = `${DEPLOY}grafana/dashboards/tokentap.json`;
export const RULES_PATH = `${DEPLOY}prometheus/rules.yml`;

/** Which Debian package provides each binary the deploy tests run (CI installs them in .ci/run). */
export const DEBIAN_PACKAGE: Record<string, string> = {
  promtool: 'prometheus',
  prometheus: 'prometheus',
  amtool: 'prometheus-alertmanager',
  'docker-compose': 'docker-compose',
};

/** Throws a clear error naming the binary and its package when it is not on PATH; never skips. */
export function requireBinary(name: string): string {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  if (found.status !== 0 || path === '') {
    const pkg = DEBIAN_PACKAGE[name] ?? name;
    throw new Error(`required binary "${name}" is not on PATH: install it with \`apt-get install -y ${pkg}\` (Debian package ${pkg})`);
  }
  return path;
}

/** Runs a binary; resolves with its combined output, or throws with that output when it exits non-zero. */
export function run(bin: string, args: string[], cwd = REPO): string {
  requireBinary(bin);
  try {
    return execFileSync(bin, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  } catch (e) {
    const err = e as { status?: number; stdout?: string; stderr?: string };
    throw new Error(`\`${bin} ${args.join(' ')}\` exited ${err.status}:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

// ---- the dashboard -------------------------------------------------------------------------------------------

export interface GridPos {
  x: number;
  y: number;
  w: number;
  h: number;
}
export interface Target {
  refId?: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
  legendFormat?: string;
}
export interface Panel {
  id?: number;
  type?: string;
  title?: string;
  gridPos?: GridPos;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
export interface TemplateVar {
  name: string;
  type: string;
  query?: string | { query?: string };
  definition?: string;
  allValue?: string;
}
export interface Dashboard {
  uid?: string;
  title?: string;
  schemaVersion?: number;
  panels?: Panel[];
  templating?: { list?: TemplateVar[] };
}

export function loadDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')) as Dashboard;
}

/** Every panel, including those nested in (collapsed) rows. */
export function allPanels(d: Dashboard): Panel[] {
  return (d.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]);
}

export interface NamedExpr {
  /** Where it comes from: `panel #<id> "<title>" / <refId>` or `rule <name>`. */
  source: string;
  expr: string;
}

export function dashboardExprs(d: Dashboard): NamedExpr[] {
  return allPanels(d).flatMap((p) =>
    (p.targets ?? [])
      .filter((t) => t.expr)
      .map((t) => ({ source: `panel #${p.id} "${p.title}" / ${t.refId}`, expr: t.expr as string })),
  );
}

/** The `label_values(selector, label)` queries of the template variables. */
export function variableQueries(d: Dashboard): { name: string; selector: string; label: string }[] {
  return (d.templating?.list ?? [])
    .filter((v) => v.type === 'query')
    .map((v) => {
      const q = typeof v.query === 'string' ? v.query : (v.query?.query ?? v.definition ?? '');
      const m = /^label_values\((.+),\s*([A-Za-z_]\w*)\s*\)$/.exec(q.trim());
      if (!m) throw new Error(`variable ${v.name}: expected label_values(selector, label), got ${q}`);
      return { name: v.name, selector: m[1].trim(), label: m[2] };
    });
}

// ---- the rules -----------------------------------------------------------------------------------------------

export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
}
export interface RulesFile {
  groups: { name: string; rules: Rule[] }[];
}

export function loadRules(): RulesFile {
  return parseYaml(readFileSync(RULES_PATH, 'utf8')) as RulesFile;
}

export function rulesExprs(r: RulesFile): NamedExpr[] {
  return r.groups.flatMap((g) => g.rules.map((rule) => ({ source: `rule ${rule.record ?? rule.alert}`, expr: rule.expr })));
}

// ---- Grafana variables ---------------------------------------------------------------------------------------

/**
 * What Grafana would send with every variable at "All": $model / $instance → `.*` (their allValue), and the
 * interval macros → fixed windows that suit a 1 s scrape interval.
 */
export function substituteVariables(expr: string): string {
  return expr
    .replace(/\$\{?__rate_interval\}?/g, '30s')
    .replace(/\$\{?__interval\}?/g, '5s')
    .replace(/\$\{?__range\}?/g, '1m')
    .replace(/\$\{?(model|instance)\}?/g, '.*');
}
