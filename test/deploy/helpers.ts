/** Shared by the deploy tests: repository paths, external binaries (skipped when missing unless CI=true), PromQL extraction from the dashboard and rules. */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
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

/** `CI` set to anything but "", "0" or "false": the tools are required (.ci/run exports CI=true). */
export function toolsRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  const ci = (env.CI ?? '').trim().toLowerCase();
  return ci !== '' && ci !== '0' && ci !== 'false';
}

/** The executable `name` on `env.PATH` (as a shell would find it), or undefined. No shell is run. */
export function findBinary(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir || '.', name);
    try {
      if (statSync(candidate).isFile()) {
        accessSync(candidate, constants.X_OK);
        return candidate;
      }
    } catch {
      // not there, or not executable: the next directory
    }
  }
  return undefined;
}

/** The line that says which binary is missing and how to get it. */
export function missingBinaryMessage(name: string): string {
  const pkg = DEBIAN_PACKAGE[name] ?? name;
  return `${name} is not on PATH (Debian package ${pkg}: apt-get install -y ${pkg})`;
}

/** The binary's path; throws naming the binary and its Debian package when it is not on PATH. */
export function requireBinary(name: string): string {
  const path = findBinary(name);
  if (!path) throw new Error(`required binary ${missingBinaryMessage(name)}`);
  return path;
}

const announced = new Set<string>();

/**
 * Whether the tests that run `names` must be skipped: some binary is missing and CI does not require it.
 * Prints one line per missing binary (once per test file) naming it and its Debian package. Under CI=true
 * nothing is skipped: the tests run and fail through requireBinary's error, which names the package too.
 * Use: `describe.skipIf(skipWithout('amtool'))(…)`.
 */
export function skipWithout(...names: string[]): boolean {
  const missing = names.filter((n) => !findBinary(n));
  if (missing.length === 0 || toolsRequired()) return false;
  for (const n of missing) {
    if (announced.has(n)) continue;
    announced.add(n);
    console.warn(`skipping the tests that run ${missingBinaryMessage(n)}; under CI=true they fail instead`);
  }
  return true;
}

/** Runs a binary; resolves with its combined output, or throws with that output when it exits non-zero. */
export function run(bin: string, args: string[], cwd = REPO): string {
  const path = requireBinary(bin);
  try {
    return execFileSync(path, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  } catch (e) {
    const err = e as { status?: number; stdout?: string; stderr?: string };
    throw new Error(`\`${bin} ${args.join(' ')}\` exited ${err.status}:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
}

export { freePort } from '../helpers/ports.js';

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
  range?: boolean;
  instant?: boolean;
  /** Grafana also asks /api/v1/query_exemplars for this expression and draws the exemplars as points. */
  exemplar?: boolean;
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
