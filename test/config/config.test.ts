import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TTFT_BUCKETS, oneTwoFiveBuckets } from '../../src/config/buckets.js';
import { ConfigError, KNOWN_ENV, closest, editDistance, loadConfig, redactUrl } from '../../src/config/load.js';
import { parseBytes, parseDurationMs } from '../../src/config/units.js';
import { ModelLabeler } from '../../src/metrics/model-label.js';

function tempYaml(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tokentap-cfg-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, text);
  return file;
}

describe('config', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({ env: {} });
    expect(c).toMatchObject({
      port: 8080,
      metrics_port: 9464,
      body_limit: 64 * 1024 * 1024,
      inject_usage: true,
      max_models: 100,
      access_log: '-',
      upstream_headers_timeout: 600_000,
    });
    expect(c.upstream).toBeUndefined();
    expect(c.buckets.ttft).toEqual(TTFT_BUCKETS);
  });

  it('precedence: flags > env > file > defaults', () => {
    const file = tempYaml('port: 1001\nmetrics_port: 2001\nhost: 10.0.0.1\nbody_limit: 1MiB\nbuckets:\n  ttft: [0.1, 1]\n');
    const c = loadConfig({ file, env: { TOKENTAP_PORT: '1002', TOKENTAP_METRICS_PORT: '2002', TOKENTAP_INJECT_USAGE: 'false' }, flags: { port: '1003' } });
    expect(c.port).toBe(1003);
    expect(c.metrics_port).toBe(2002);
    expect(c.host).toBe('10.0.0.1');
    expect(c.body_limit).toBe(1024 * 1024);
    expect(c.inject_usage).toBe(false);
    expect(c.buckets.ttft).toEqual([0.1, 1]);
    expect(c.buckets.e2e[0]).toBe(0.3);
  });

  it('names the field in errors, including unknown fields', () => {
    const file = tempYaml('port: eighty\nupstrem: http://x\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(ConfigError);
    try {
      loadConfig({ file, env: {} });
    } catch (e) {
      expect((e as Error).message).toMatch(/port/);
      expect((e as Error).message).toMatch(/unknown field upstrem/);
    }
    expect(() => loadConfig({ env: { TOKENTAP_UPSTREAM_HEADERS_TIMEOUT: 'soon' } })).toThrow(/upstream_headers_timeout/);
    expect(() => loadConfig({ env: { TOKENTAP_UPSTREAM: 'ftp://x' } })).toThrow(/upstream/);
    expect(() => loadConfig({ env: {}, flags: { buckets: { ttft: [1, 0.5] } } })).toThrow(/buckets.ttft/);
  });

  it('never prints credentials of the upstream URL or the metrics token', () => {
    expect(redactUrl('http://user:pw@h:1/v1')).toBe('http://***:***@h:1/v1');
    let msg = '';
    try {
      loadConfig({ env: { TOKENTAP_UPSTREAM: 'http//user:hunter2@h' } });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/upstream/);
    expect(msg).not.toContain('hunter2');
  });

  it("never prints the upstream URL's query or fragment (an API key often rides in ?key=)", () => {
    expect(redactUrl('https://api.example:8443/tenant/v1?key=sk-secret&x=1#frag')).toBe('https://api.example:8443/tenant/v1?***#***');
    expect(redactUrl('http://u:pw@h/?key=sk-secret')).toBe('http://***:***@h/?***');
    expect(redactUrl('http://h:1/v1')).toBe('http://h:1/v1');
    expect(redactUrl('http://h:1/v1?')).toBe('http://h:1/v1');
  });

  it('trust_forwarded_headers: off by default, settable from the environment', () => {
    expect(loadConfig({ env: {} }).trust_forwarded_headers).toBe(false);
    expect(loadConfig({ env: { TOKENTAP_TRUST_FORWARDED_HEADERS: 'yes' } }).trust_forwarded_headers).toBe(true);
    expect(() => loadConfig({ env: { TOKENTAP_TRUST_FORWARDED_HEADERS: 'maybe' } })).toThrow(/trust_forwarded_headers/);
  });

  it('refuses a metrics_token no Bearer header can carry (RFC 6750 token68), without printing it', () => {
    for (const token of ['pa$$:w0rd!', 'two words', 'tr@iling\n', '=leading', '']) {
      let msg = '';
      try {
        loadConfig({ env: {}, flags: { metrics_token: token } });
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        msg = (e as Error).message;
      }
      expect(msg).toMatch(/metrics_token: must be a token68: letters, digits and - \. _ ~ \+ \//);
      if (token !== '') expect(msg).not.toContain(token.trim());
    }
    expect(() => loadConfig({ file: tempYaml('metrics_token: 12345\n'), env: {} })).toThrow(/metrics_token.*received \*\*\*/);
    expect(() => loadConfig({ env: { TOKENTAP_METRICS_TOKEN: 'pa$$:w0rd!' } })).toThrow(/^invalid config:\n {2}metrics_token: must be/);
    for (const token of ['s3cret', 'A-Za-z0-9._~+/', 'YWJjZA==', 'x'.repeat(200)]) {
      expect(loadConfig({ env: { TOKENTAP_METRICS_TOKEN: token } }).metrics_token).toBe(token);
    }
  });

  it('parses durations and sizes', () => {
    expect(parseDurationMs(2)).toBe(2000);
    expect(parseDurationMs('250ms')).toBe(250);
    expect(parseDurationMs('5m')).toBe(300_000);
    expect(parseBytes('512KiB')).toBe(524_288);
    expect(() => parseBytes('lots')).toThrow(/not a size/);
  });

  it("builds vLLM's 1-2-5 token buckets", () => {
    expect(oneTwoFiveBuckets(100)).toEqual([1, 2, 5, 10, 20, 50, 100]);
  });
});

describe('ModelLabeler', () => {
  it('a name takes a slot only when admitted (the upstream answered 2xx); other until then; unknown when absent', () => {
    const l = new ModelLabeler([], 2);
    expect([l.label('a'), l.mayAdmit('a'), l.admit('a'), l.label('a')]).toEqual(['other', true, 'a', 'a']);
    expect([l.admit('b'), l.mayAdmit('c'), l.admit('c'), l.label('c'), l.label(undefined)]).toEqual(['b', false, 'other', 'other', 'unknown']);
  });
  it('100,000 distinct names the upstream rejects take no slot: a real model admitted after them still gets its own label', () => {
    const l = new ModelLabeler([], 100);
    const labels = new Set<string>();
    for (let i = 0; i < 100_000; i++) labels.add(l.label(`name-${i}`));
    expect([...labels]).toEqual(['other']);
    expect(l.admit('real')).toBe('real');
    expect(l.mayAdmit('x'.repeat(500))).toBe(false);
    expect(l.admit('x'.repeat(500))).toBe('other');
  });
  it('100,000 distinct names all admitted: the label set stays at max_models + other', () => {
    const l = new ModelLabeler([], 100);
    const labels = new Set<string>();
    for (let i = 0; i < 100_000; i++) labels.add(l.admit(`name-${i}`));
    expect(labels.size).toBe(101);
  });
  it('with an allowlist, only those, before and after an answer', () => {
    const l = new ModelLabeler(['a'], 100);
    expect([l.label('a'), l.label('b'), l.mayAdmit('b'), l.admit('b')]).toEqual(['a', 'other', false, 'other']);
  });
});

describe('config.example.yaml', () => {
  it('is valid and states the defaults', () => {
    const fromExample = loadConfig({ file: new URL('../../config.example.yaml', import.meta.url).pathname, env: {} });
    expect(fromExample).toEqual(loadConfig({ env: {} }));
  });
});

describe('TOKENTAP_* environment variables', () => {
  const message = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as Error).message;
    }
    throw new Error('no error');
  };

  it('an unknown one is an error naming it and the closest known one', () => {
    expect(message(() => loadConfig({ env: { TOKENTAP_UPSTRAEM: 'http://h:1' } }))).toBe(
      'invalid config:\n  unknown environment variable TOKENTAP_UPSTRAEM (did you mean TOKENTAP_UPSTREAM?)',
    );
    expect(message(() => loadConfig({ env: { TOKENTAP_METRICS_PORTS: '1' } }))).toMatch(/TOKENTAP_METRICS_PORTS \(did you mean TOKENTAP_METRICS_PORT\?\)/);
    expect(message(() => loadConfig({ env: { TOKENTAP_ACCESSLOG: 'off' } }))).toMatch(/did you mean TOKENTAP_ACCESS_LOG\?/);
    expect(message(() => loadConfig({ env: { TOKENTAP_CONFIGFILE: '/x' } }))).toMatch(/did you mean TOKENTAP_CONFIG\?/);
  });

  it('reported with the other config errors, sorted, never with the value', () => {
    const m = message(() => loadConfig({ env: { TOKENTAP_ZZZ: 'sk-secret', TOKENTAP_AAA: 'sk-secret', TOKENTAP_PORT: 'eighty' } }));
    expect(m).toMatch(/^invalid config:\n {2}unknown environment variable TOKENTAP_AAA .*\n {2}unknown environment variable TOKENTAP_ZZZ .*\n {2}port: /);
    expect(m).not.toContain('sk-secret');
  });

  it('every variable tokentap and its tooling set is allowed', () => {
    const env = {
      TOKENTAP_CONFIG: '',
      TOKENTAP_LOG: 'off', // alias of TOKENTAP_ACCESS_LOG (docker-compose.yml)
      TOKENTAP_UPSTREAM: 'http://h:1', // the cluster primary forks workers with these two
      TOKENTAP_PORT: '0',
      TOKENTAP_HOST: '0.0.0.0', // the Dockerfile's ENV
      TOKENTAP_METRICS_HOST: '0.0.0.0',
      TOKENTAP_METRICS_PORT: '9464', // the Dockerfile's HEALTHCHECK reads it
      TOKENTAP_UPSTREAM_IDLE_TIMEOUT: '1s', // the soak
      TOKENTAP_UPSTREAM_HEADERS_TIMEOUT: '1s',
      TOKENTAP_BODY_LIMIT: '64KiB',
      TOKENTAP_SHUTDOWN_GRACE: '1s', // test/cli/shutdown.test.ts
      TOKENTAP_BENCH_NODE_FLAGS: '--max-semi-space-size=4', // bench:overhead, inherited by the tokentap it starts
    };
    expect(loadConfig({ env }).access_log).toBe('off');
    for (const field of ['metrics_token', 'trust_forwarded_headers', 'model_allowlist', 'workers', 'max_models', 'inject_usage']) {
      expect(KNOWN_ENV).toContain(`TOKENTAP_${field.toUpperCase()}`);
    }
  });

  it('an unknown one set to the empty string is ignored, as known ones are; names are case-sensitive', () => {
    expect(loadConfig({ env: { TOKENTAP_UPSTRAEM: '', tokentap_whatever: 'x' } }).upstream).toBeUndefined();
  });

  it('edit distance', () => {
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('UPSTRAEM', 'UPSTREAM')).toBe(2);
    expect(closest('TOKENTAP_PROT', KNOWN_ENV)).toBe('TOKENTAP_PORT');
    expect(closest('x', [])).toBeUndefined();
  });
});

describe('unknown YAML fields', () => {
  it('name the closest known field, nested ones too', () => {
    const file = tempYaml('upstrem: http://x\nbuckets:\n  tfft: [1]\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(/\n {2}unknown field upstrem \(did you mean upstream\?\)(\n|$)/);
    expect(() => loadConfig({ file, env: {} })).toThrow(/\n {2}unknown field buckets\.tfft \(did you mean ttft\?\)(\n|$)/);
  });
});

describe('run defaults (--demo)', () => {
  it('sit below the file, the environment and the flags', () => {
    const defaults = { upstream_headers_timeout: '30s', upstream_idle_timeout: '10s' };
    expect(loadConfig({ env: {}, defaults })).toMatchObject({ upstream_headers_timeout: 30_000, upstream_idle_timeout: 10_000 });
    const file = tempYaml('upstream_idle_timeout: 5m\n');
    expect(loadConfig({ file, env: {}, defaults })).toMatchObject({ upstream_headers_timeout: 30_000, upstream_idle_timeout: 300_000 });
    expect(loadConfig({ env: { TOKENTAP_UPSTREAM_HEADERS_TIMEOUT: '1s' }, defaults }).upstream_headers_timeout).toBe(1000);
  });
});
