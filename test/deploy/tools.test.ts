/**
 * Static checks of the deploy files with the real tools: promtool (config, rules, rule unit tests), amtool
 * (Alertmanager config) and docker-compose v1 (the compose file, per profile; no Docker engine needed).
 * A missing binary skips its tests with a line naming the Debian package to install; under CI=true they fail.
 */
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { REPO, run, skipWithout } from './helpers.js';

interface ComposeService {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: (string | { type: string; source: string; target: string })[];
  ports?: (string | { target: number; published: number | string })[];
}

/** The compose file as docker-compose resolves it for a profile (anchors merged, ${VARS} substituted). */
function resolvedCompose(profile: string, env: NodeJS.ProcessEnv = {}): Record<string, ComposeService> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    return (parseYaml(run('docker-compose', ['--profile', profile, 'config'])) as { services: Record<string, ComposeService> }).services;
  } finally {
    for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

/** A service's container ports, whichever syntax docker-compose printed. */
const containerPorts = (s: ComposeService) => (s.ports ?? []).map((p) => (typeof p === 'string' ? Number(p.split(':').pop()!.split('/')[0]) : p.target));
/** The host path mounted at `target`, or undefined. */
const mountSource = (s: ComposeService, target: string) =>
  (s.volumes ?? []).map((v) => (typeof v === 'string' ? { source: v.split(':')[0], target: v.split(':')[1] } : v)).find((v) => v.target === target)?.source;

describe.skipIf(skipWithout('promtool'))('promtool', () => {
  it('check config: deploy/prometheus/prometheus.yml (and the rule file it loads)', () => {
    const out = run('promtool', ['check', 'config', 'deploy/prometheus/prometheus.yml']);
    expect(out).toMatch(/SUCCESS/);
  });

  it('check rules: deploy/prometheus/rules.yml', () => {
    const out = run('promtool', ['check', 'rules', 'deploy/prometheus/rules.yml']);
    expect(out).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('test rules: every alert fires on its synthetic series and stays quiet on the other', () => {
    const out = run('promtool', ['test', 'rules', 'deploy/prometheus/rules.test.yml']);
    expect(out).toMatch(/SUCCESS/);
  });
});

describe.skipIf(skipWithout('amtool'))('amtool', () => {
  it('check-config: deploy/alertmanager/alertmanager.yml', () => {
    const out = run('amtool', ['check-config', 'deploy/alertmanager/alertmanager.yml']);
    expect(out).toMatch(/SUCCESS/);
  });
});

describe.skipIf(skipWithout('docker-compose'))('docker-compose config', () => {
  for (const profile of ['demo', 'gpu']) {
    it(`validates docker-compose.yml with --profile ${profile}`, () => {
      run('docker-compose', ['--profile', profile, 'config', '-q']);
      const services = run('docker-compose', ['--profile', profile, 'config', '--services']).split('\n').filter(Boolean);
      const expected = ['tokentap', 'prometheus', 'grafana', 'alertmanager', 'open-webui', 'jaeger', ...(profile === 'gpu' ? ['vllm'] : ['sim', 'loadgen'])];
      for (const s of expected) expect(services).toContain(s);
    });
  }

  it('validates docker-compose.yml with no profile (as `docker compose config` would)', () => {
    run('docker-compose', ['config', '-q']);
  });

  for (const profile of ['demo', 'gpu']) {
    it(`--profile ${profile}: Jaeger (pinned, OTLP 4317/4318, UI 16686), Prometheus with exemplar storage, tokentap tracing and attributing`, () => {
      const s = resolvedCompose(profile);
      expect(s.jaeger.image).toMatch(/^[\w./-]*jaegertracing\/[\w-]+:\d+\.\d+\.\d+$/);
      expect(containerPorts(s.jaeger)).toEqual(expect.arrayContaining([4317, 4318, 16686]));
      expect(s.prometheus.command).toContain('--enable-feature=exemplar-storage');
      const env = s.tokentap.environment!;
      expect(env.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://jaeger:4318');
      expect(env.TOKENTAP_USER_FROM.split(',')).toContain('openwebui');
      expect(env.TOKENTAP_KEY_ID_SECRET).toBeTruthy();
      expect(mountSource(s.tokentap, env.TOKENTAP_CONFIG)).toBe(`${REPO}deploy/tokentap/demo.yaml`);
      expect(s['open-webui'].environment!.ENABLE_FORWARD_USER_INFO_HEADERS).toBe('true');
      expect(s.grafana.volumes?.length).toBeGreaterThan(0);
    });
  }

  it('TOKENTAP_KEY_ID_SECRET comes from the environment when set (the default is only a public demo value)', () => {
    const s = resolvedCompose('demo', { TOKENTAP_KEY_ID_SECRET: 'from-the-shell-0123456789' });
    expect(s.tokentap.environment!.TOKENTAP_KEY_ID_SECRET).toBe('from-the-shell-0123456789');
  });

  it("tokentap's compose environment plus deploy/tokentap/demo.yaml is a valid config: attribution on, demo models priced", () => {
    const s = resolvedCompose('demo');
    const env: NodeJS.ProcessEnv = { ...s.tokentap.environment!, TOKENTAP_CONFIG: mountSource(s.tokentap, s.tokentap.environment!.TOKENTAP_CONFIG) };
    const config = loadConfig({ env }) as unknown as { user_from: string[]; key_id_secret?: string; currency: string; prices: Record<string, unknown> };
    expect(config.user_from).toEqual(['openwebui', 'api_key']);
    expect(config.key_id_secret).toBe(env.TOKENTAP_KEY_ID_SECRET);
    expect(config.currency).toBe('USD');
    expect(Object.keys(config.prices)).toEqual(expect.arrayContaining(['demo-chat', 'Qwen/*']));
    // demo-reasoner stays unpriced, so the "Unpriced requests" panel has data in the demo
    expect(Object.keys(config.prices)).not.toContain('demo-reasoner');
  });

  it('--profile demo: the loadgen sends several Open WebUI-style users', () => {
    const s = resolvedCompose('demo');
    expect(s.loadgen.environment!.USERS.split(',').length).toBeGreaterThanOrEqual(3);
  });

  it('--profile gpu: vLLM exports its spans to Jaeger over OTLP/gRPC (its default protocol) and has the OTel SDK', () => {
    const s = resolvedCompose('gpu');
    expect(s.vllm.command).toContain('--otlp-traces-endpoint=http://jaeger:4317');
    expect(s.vllm.environment!.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL).toBe('grpc');
    expect(s.vllm.environment!.OTEL_SERVICE_NAME).toBe('vllm');
    const build = (s.vllm as { build?: { context: string; args?: Record<string, string> } }).build;
    expect(build?.context).toBe(`${REPO}deploy/vllm`);
    expect(build?.args?.VLLM_IMAGE).toMatch(/^vllm\/vllm-openai:v\d+\.\d+\.\d+$/);
  });
});
