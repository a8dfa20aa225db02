/**
 * deploy/kubernetes/: every manifest validates against the Kubernetes API schemas and the Prometheus Operator
 * CRD schemas (the kubernetes-models packages: JSON schemas compiled from the OpenAPI specs; they check types,
 * required fields, enums and formats, but do not reject unknown fields), every kustomization renders (with
 * `kubectl kustomize` when kubectl is on PATH, and always with a small renderer for the three features these
 * kustomizations use: resources, labels, images; both must agree), and the objects fit together: probes,
 * drain timing, security context, selectors, ports, and tokentap's configuration checked by tokentap's own
 * config schema.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { PodMonitor, PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { KNOWN_ENV, configFromEnv, validateConfig } from '../../src/config/load.ts';
import { parseDurationMs } from '../../src/config/units.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const K8S = join(REPO, 'deploy/kubernetes');
const VARIANTS = ['sidecar', 'standalone', 'monitoring'] as const;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

/** apiVersion/kind -> the kubernetes-models class whose validate() checks it against its schema. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

/** Throws with the schema errors when `obj` is not a valid object of its apiVersion and kind. */
function validateObject(obj: Obj, where: string): void {
  const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  if (!Model) throw new Error(`${where}: no schema for ${obj.apiVersion} ${obj.kind}`);
  try {
    new Model(obj as never).validate();
  } catch (e) {
    throw new Error(`${where}: ${obj.kind} ${obj.metadata?.name}: ${(e as Error).message}`);
  }
}

function loadDocs(path: string): Obj[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'));
  for (const d of docs) if (d.errors.length) throw new Error(`${path}: ${d.errors[0].message}`);
  return docs.map((d) => d.toJS() as Obj).filter((o) => o != null);
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? yamlFiles(join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

const manifestFiles = yamlFiles(K8S).filter((f) => !f.endsWith('kustomization.yaml'));

/** The subset of kustomize these kustomizations use: resources (files), labels (metadata only), images. */
function renderSimply(dir: string): Obj[] {
  const k = parseYaml(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Obj;
  const allowed = new Set(['apiVersion', 'kind', 'resources', 'labels', 'images']);
  for (const key of Object.keys(k)) if (!allowed.has(key)) throw new Error(`${dir}: the simple renderer does not know ${key}`);
  const objects = (k.resources as string[]).flatMap((r) => {
    const path = join(dir, r);
    if (!existsSync(path)) throw new Error(`${dir}/kustomization.yaml lists ${r}, which does not exist`);
    return loadDocs(path);
  });
  for (const o of objects) {
    for (const l of k.labels ?? []) {
      if (l.includeSelectors || l.includeTemplates) throw new Error('the simple renderer only adds metadata labels');
      o.metadata.labels = { ...o.metadata.labels, ...l.pairs };
    }
    const containers: Obj[] = [...(o.spec?.template?.spec?.containers ?? []), ...(o.spec?.template?.spec?.initContainers ?? [])];
    for (const c of containers) {
      const [name, tag] = String(c.image).split(':');
      const img = (k.images ?? []).find((i: Obj) => i.name === name);
      if (img) c.image = `${img.newName ?? name}:${img.newTag ?? tag ?? 'latest'}`;
    }
  }
  return objects;
}

function findKubectl(): string | undefined {
  for (const d of (process.env.PATH ?? '').split(':')) if (d && existsSync(join(d, 'kubectl'))) return join(d, 'kubectl');
  return undefined;
}
const kubectl = findKubectl();

const byKindName = (a: Obj, b: Obj) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`);

const rendered: Record<string, Obj[]> = Object.fromEntries(VARIANTS.map((v) => [v, renderSimply(join(K8S, v)).sort(byKindName)]));

function one(objects: Obj[], kind: string): Obj {
  const found = objects.filter((o) => o.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0];
}

const tokentapContainer = (d: Obj): Obj => d.spec.template.spec.containers.find((c: Obj) => c.name === 'tokentap');

/** tokentap's effective config in a variant's Deployment (ConfigMap env, mounted file, args), schema-checked. */
function effectiveConfig(objects: Obj[]) {
  const deploy = one(objects, 'Deployment');
  const c = tokentapContainer(deploy);
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === from.configMapRef.name);
    expect(cm, `ConfigMap ${from.configMapRef?.name}`).toBeDefined();
    Object.assign(env, cm!.data);
  }
  for (const e of c.env ?? []) env[e.name] = e.value ?? 'secret-placeholder-token';
  for (const name of Object.keys(env)) if (name.startsWith('TOKENTAP_')) expect(KNOWN_ENV, `${name} is a variable tokentap knows`).toContain(name);
  let file = {};
  if (env.TOKENTAP_CONFIG) {
    const mount = c.volumeMounts.find((m: Obj) => env.TOKENTAP_CONFIG.startsWith(`${m.mountPath}/`));
    expect(mount, 'a volume mounted where TOKENTAP_CONFIG points').toBeDefined();
    const vol = deploy.spec.template.spec.volumes.find((v: Obj) => v.name === mount.name);
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === vol.configMap?.name);
    const key = env.TOKENTAP_CONFIG.slice(mount.mountPath.length + 1);
    expect(cm?.data?.[key], `ConfigMap ${vol.configMap?.name} key ${key}`).toBeTypeOf('string');
    file = parseYaml(cm!.data[key]) ?? {};
  }
  const flags: Record<string, string> = {};
  for (const a of c.args ?? []) {
    const m = /^--([a-z-]+)=(.*)$/.exec(a);
    expect(m, `arg ${a} is --flag=value`).not.toBeNull();
    flags[m![1].replaceAll('-', '_')] = m![2];
  }
  return validateConfig({ ...file, ...configFromEnv(env), ...flags });
}

const cpuCores = (q: string): number => (q.endsWith('m') ? Number(q.slice(0, -1)) / 1000 : Number(q));

describe('deploy/kubernetes manifests against the Kubernetes and Prometheus Operator schemas', () => {
  it('there are manifests: 5 per variant and 2 generated monitoring objects', () => {
    expect(manifestFiles.length).toBe(12);
  });

  it.each(manifestFiles.map((f) => [relative(REPO, f), f]))('%s validates', (_name, file) => {
    const docs = loadDocs(file);
    expect(docs.length).toBeGreaterThan(0);
    for (const d of docs) validateObject(d, relative(REPO, file));
  });

  it('the validation rejects a wrong object (the schemas are really applied)', () => {
    const deploy = structuredClone(one(rendered.standalone, 'Deployment'));
    tokentapContainer(deploy).ports[0].containerPort = 'eighty';
    expect(() => validateObject(deploy, 'broken')).toThrow(/containerPort/);
    const monitor = structuredClone(one(rendered.standalone, 'ServiceMonitor'));
    delete monitor.spec.selector;
    expect(() => validateObject(monitor, 'broken')).toThrow(/selector/);
  });

  it('every manifest file is listed by a kustomization', () => {
    const listed = VARIANTS.flatMap((v) => {
      const k = parseYaml(readFileSync(join(K8S, v, 'kustomization.yaml'), 'utf8')) as Obj;
      return (k.resources as string[]).map((r) => join(K8S, v, r));
    });
    expect(manifestFiles.filter((f) => !listed.includes(f)).map((f) => relative(REPO, f))).toEqual([]);
  });
});

describe.each(VARIANTS)('kustomization %s', (variant) => {
  it('renders, and every rendered object validates', () => {
    expect(rendered[variant].length).toBeGreaterThan(0);
    for (const o of rendered[variant]) validateObject(o, `${variant} (rendered)`);
  });

  it.skipIf(!kubectl)('`kubectl kustomize` renders the same objects as the simple renderer', () => {
    const out = execFileSync(kubectl!, ['kustomize', join(K8S, variant)], { encoding: 'utf8', timeout: 60_000 });
    const objects = parseAllDocuments(out).map((d) => d.toJS() as Obj).sort(byKindName);
    for (const o of objects) validateObject(o, `${variant} (kubectl kustomize)`);
    expect(objects).toEqual(rendered[variant]);
  });
});

describe.each(['sidecar', 'standalone'] as const)('%s variant', (variant) => {
  const objects = rendered[variant];
  const deploy = one(objects, 'Deployment');
  const pod = deploy.spec.template.spec;
  const podLabels = deploy.spec.template.metadata.labels as Record<string, string>;
  const c = tokentapContainer(deploy);
  const port = (name: string) => c.ports.find((p: Obj) => p.name === name);
  const selects = (sel: Record<string, string>, labels: Record<string, string>) =>
    Object.entries(sel).every(([k, v]) => labels[k] === v);

  it("tokentap's config passes tokentap's own schema", () => {
    const config = effectiveConfig(objects);
    expect(config.upstream).toMatch(/^http:\/\//);
    if (variant === 'sidecar') expect(config.upstream).toBe('http://127.0.0.1:8000');
    expect(port('http').containerPort).toBe(config.port);
    expect(port('metrics').containerPort).toBe(config.metrics_port);
  });

  it('liveness is /healthz and readiness /readyz, both on the metrics port', () => {
    expect(c.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port: 'metrics' });
    expect(c.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: 'metrics' });
  });

  it('terminationGracePeriodSeconds exceeds the preStop pause plus shutdown_grace', () => {
    const config = effectiveConfig(objects);
    const pause = c.lifecycle.preStop.sleep.seconds as number;
    expect(pause).toBeGreaterThan(0);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(pause + config.shutdown_grace / 1000);
    if (variant === 'sidecar') {
      // vLLM must outlive tokentap's drain, and still be stopped inside the grace period
      const vllm = pod.containers.find((x: Obj) => x.name === 'vllm');
      const vllmPause = vllm.lifecycle.preStop.sleep.seconds as number;
      expect(vllmPause).toBeGreaterThanOrEqual(pause + config.shutdown_grace / 1000);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(vllmPause);
    }
  });

  it('every container runs under the restricted security context', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    for (const x of pod.containers) {
      expect(x.securityContext, x.name).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
    }
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
  });

  it('tokentap has requests and limits; workers is a number no larger than the CPU request allows', () => {
    const { requests, limits } = c.resources;
    for (const r of ['cpu', 'memory']) {
      expect(requests[r], `requests.${r}`).toBeDefined();
      expect(limits[r], `limits.${r}`).toBeDefined();
    }
    const workers = effectiveConfig(objects).workers;
    expect(workers).not.toBe('auto'); // "auto" counts the node's CPUs, not the container's
    expect(workers as number).toBeLessThanOrEqual(Math.max(1, Math.floor(cpuCores(requests.cpu))));
  });

  it('the metrics token comes from a Secret, and the monitor reads the same Secret', () => {
    const ref = c.env.find((e: Obj) => e.name === 'TOKENTAP_METRICS_TOKEN').valueFrom.secretKeyRef;
    const monitor = objects.find((o) => o.kind === 'PodMonitor' || o.kind === 'ServiceMonitor')!;
    const endpoints = monitor.spec.podMetricsEndpoints ?? monitor.spec.endpoints;
    const tokentapEndpoint = endpoints.find((e: Obj) => e.port === 'metrics');
    expect(tokentapEndpoint.authorization.credentials).toEqual({ name: ref.name, key: ref.key });
    for (const cm of objects.filter((o) => o.kind === 'ConfigMap')) {
      expect(JSON.stringify(cm.data)).not.toMatch(/METRICS_TOKEN|metrics_token/);
    }
  });

  it('the Service sends clients to tokentap, and the PodDisruptionBudget covers the pods', () => {
    const svc = one(objects, 'Service');
    expect(selects(svc.spec.selector, podLabels)).toBe(true);
    expect(selects(deploy.spec.selector.matchLabels, podLabels)).toBe(true);
    const clientPort = svc.spec.ports.find((p: Obj) => p.name === 'http');
    expect(clientPort.targetPort).toBe('http');
    expect(port('http')).toBeDefined(); // the named port is tokentap's, not vLLM's
    for (const p of svc.spec.ports) expect(pod.containers.some((x: Obj) => x.ports.some((cp: Obj) => cp.name === p.targetPort))).toBe(true);
    const pdb = one(objects, 'PodDisruptionBudget');
    expect(selects(pdb.spec.selector.matchLabels, podLabels)).toBe(true);
    expect(pdb.spec.maxUnavailable ?? pdb.spec.minAvailable).toBeDefined();
  });

  it('the monitor selects these pods, scrapes the metrics port every 15 s or faster, as job="tokentap"', () => {
    const monitor = objects.find((o) => o.kind === 'PodMonitor' || o.kind === 'ServiceMonitor')!;
    const targetLabels = monitor.kind === 'PodMonitor' ? podLabels : one(objects, 'Service').metadata.labels;
    expect(selects(monitor.spec.selector.matchLabels, targetLabels)).toBe(true);
    const endpoints = monitor.spec.podMetricsEndpoints ?? monitor.spec.endpoints;
    const e = endpoints.find((x: Obj) => x.port === 'metrics');
    expect(parseDurationMs(e.interval)).toBeLessThanOrEqual(15_000);
    expect(e.relabelings).toContainEqual({ action: 'replace', targetLabel: 'job', replacement: 'tokentap' });
    if (monitor.kind === 'ServiceMonitor') expect(one(objects, 'Service').spec.ports.some((p: Obj) => p.name === 'metrics')).toBe(true);
    else expect(port('metrics')).toBeDefined();
  });

  it('the image is set by the kustomization, not hand-edited', () => {
    expect(c.image).toMatch(/^[^:]+\/tokentap:\d+\.\d+\.\d+$/);
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
    expect(c.image.endsWith(`:${pkg.version}`)).toBe(true);
  });
});
