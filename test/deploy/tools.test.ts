/**
 * Static checks of the deploy files with the real tools: promtool (config, rules, rule unit tests), amtool
 * (Alertmanager config) and docker-compose v1 (the compose file, per profile; no Docker engine needed).
 * A missing binary skips its tests with a line naming the Debian package to install; under CI=true they fail.
 */
import { describe, expect, it } from 'vitest';
import { run, skipWithout } from './helpers.js';

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
      const expected = ['tokentap', 'prometheus', 'grafana', 'alertmanager', 'open-webui', profile === 'gpu' ? 'vllm' : 'sim'];
      for (const s of expected) expect(services).toContain(s);
    });
  }

  it('validates docker-compose.yml with no profile (as `docker compose config` would)', () => {
    run('docker-compose', ['config', '-q']);
  });
});
