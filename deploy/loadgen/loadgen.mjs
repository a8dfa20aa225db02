// Demo traffic for the docker-compose `demo` profile: a steady, varied stream of OpenAI-style requests
// through tokentap to the simulator, so every Grafana panel has data within a minute.
//
// Plain Node >= 22, no dependencies:  TARGET=http://127.0.0.1:8080 node deploy/loadgen/loadgen.mjs
//
// Environment:
//   TARGET       tokentap's proxy URL (default http://tokentap:8080)
//   RATE         requests per second, Poisson arrivals (default 4)
//   MAX_IN_FLIGHT  cap on concurrent requests (default 64)
//   MODELS       comma-separated model names to spread the load over (default demo-chat,demo-reasoner)
//   FAULTS       1 = also send x-sim-fault requests (errors, dropped streams) and client aborts (default 1)
//   USERS        comma-separated user emails sent as Open WebUI's forwarded user headers (X-OpenWebUI-User-Email,
//                -Id, -Name, -Role), a few users much busier than the rest (default alice@example.com,...,erin@...)
//   API_KEYS     comma-separated bearer keys sent WITHOUT user headers, like scripts calling the API directly
//                (tokentap attributes them by key id with user_from api_key); about 1 request in 5 (default
//                sk-demo-batch-job,sk-demo-ci). Demo strings, not credentials.
//
// The x-sim-* headers shape each simulated response (timing, length, faults); tokentap forwards them
// unchanged. Against a real server they are ignored, so set FAULTS=0 there.

const TARGET = (process.env.TARGET ?? 'http://tokentap:8080').replace(/\/+$/, '');
const RATE = Number(process.env.RATE ?? 4);
const MAX_IN_FLIGHT = Number(process.env.MAX_IN_FLIGHT ?? 64);
const MODELS = (process.env.MODELS ?? 'demo-chat,demo-reasoner').split(',').map((s) => s.trim()).filter(Boolean);
const FAULTS = (process.env.FAULTS ?? '1') !== '0';
const list = (v, def) => (v ?? def).split(',').map((s) => s.trim()).filter(Boolean);
const USERS = list(process.env.USERS, 'alice@example.com,bob@example.com,carol@example.com,dave@example.com,erin@example.com');
const API_KEYS = list(process.env.API_KEYS, 'sk-demo-batch-job,sk-demo-ci');

const WORDS = 'the quick brown fox jumps over a lazy dog while metering tokens through a transparent proxy'.split(' ');
const rand = (a, b) => a + Math.random() * (b - a);
const randInt = (a, b) => Math.floor(rand(a, b + 1));
/** Log-uniform: many short values, a long tail. */
const logUniform = (a, b) => Math.round(Math.exp(rand(Math.log(a), Math.log(b))));
const pick = (xs) => xs[Math.floor(Math.random() * xs.length)];
const prompt = (n) => Array.from({ length: n }, (_, i) => WORDS[i % WORDS.length]).join(' ');

/** Zipf-like weights (1, 1/2, 1/3, ...): the first users send most of the traffic, as in real teams. */
const pickWeighted = (xs) => {
  let x = Math.random() * xs.reduce((n, _, i) => n + 1 / (i + 1), 0);
  for (let i = 0; i < xs.length; i++) if ((x -= 1 / (i + 1)) < 0) return xs[i];
  return xs[0];
};
/** A stable fake user id per email, as Open WebUI sends its user's UUID. */
const userId = (email) => {
  let h = 0;
  for (const c of email) h = (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0;
  return `00000000-0000-4000-8000-${h.toString(16).padStart(12, '0')}`;
};

/** Who sends this request: Open WebUI's forwarded user headers, or (1 in 5) a bare API key with no user header. */
function identity() {
  if (API_KEYS.length > 0 && (USERS.length === 0 || Math.random() < 0.2)) return { authorization: `Bearer ${pick(API_KEYS)}` };
  if (USERS.length === 0) return { authorization: 'Bearer demo' };
  const email = pickWeighted(USERS);
  return {
    authorization: 'Bearer demo',
    'x-openwebui-user-email': email,
    'x-openwebui-user-id': userId(email),
    'x-openwebui-user-name': email.split('@')[0],
    'x-openwebui-user-role': 'user',
  };
}

/** Weighted scenarios; `fault` ones only when FAULTS=1. */
const SCENARIOS = [
  { w: 46, name: 'chat-stream', path: '/v1/chat/completions', stream: true },
  { w: 10, name: 'chat', path: '/v1/chat/completions', stream: false },
  { w: 8, name: 'completions-stream', path: '/v1/completions', stream: true },
  { w: 8, name: 'responses-stream', path: '/v1/responses', stream: true },
  { w: 4, name: 'embeddings', path: '/v1/embeddings', stream: false },
  { w: 8, name: 'client-abort', path: '/v1/chat/completions', stream: true, abort: true, fault: true },
  { w: 6, name: 'error', path: '/v1/chat/completions', stream: true, fault: true },
].filter((s) => FAULTS || !s.fault);
const TOTAL_W = SCENARIOS.reduce((n, s) => n + s.w, 0);

function pickScenario() {
  let x = Math.random() * TOTAL_W;
  for (const s of SCENARIOS) if ((x -= s.w) < 0) return s;
  return SCENARIOS[0];
}

function buildRequest(s, model) {
  const words = logUniform(8, 3000);
  const maxTokens = logUniform(8, 400);
  const headers = {
    'content-type': 'application/json',
    ...identity(),
    'x-sim-ttft-ms': String(Math.random() < 0.03 ? randInt(2500, 4000) : logUniform(60, 900)),
    'x-sim-itl-ms': String(logUniform(8, 60)),
    'x-sim-output-tokens': String(maxTokens),
    'x-sim-cached-tokens': String(Math.random() < 0.4 ? Math.floor(words / 2) : 0),
  };
  if (model.includes('reason')) headers['x-sim-reasoning-tokens'] = String(randInt(10, 80));
  if (s.name === 'error') headers['x-sim-fault'] = pick(['http-500', 'http-503', 'http-429', 'http-400', 'inband-error', 'die']);
  let body;
  if (s.path === '/v1/chat/completions') {
    body = { model, messages: [{ role: 'user', content: prompt(words) }], max_tokens: maxTokens, stream: s.stream };
    if (s.stream) body.stream_options = { include_usage: true };
  } else if (s.path === '/v1/completions') {
    body = { model, prompt: prompt(words), max_tokens: maxTokens, stream: s.stream };
    if (s.stream) body.stream_options = { include_usage: true };
  } else if (s.path === '/v1/responses') {
    body = { model, input: prompt(words), max_output_tokens: maxTokens, stream: s.stream };
  } else {
    body = { model, input: prompt(Math.min(words, 500)) };
  }
  return { headers, body: JSON.stringify(body) };
}

const counts = new Map();
const count = (k) => counts.set(k, (counts.get(k) ?? 0) + 1);
let inFlight = 0;

async function one() {
  const s = pickScenario();
  const model = pick(MODELS);
  const { headers, body } = buildRequest(s, model);
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 120_000);
  inFlight++;
  try {
    const res = await fetch(TARGET + s.path, { method: 'POST', headers, body, signal: ac.signal });
    if (!res.body) return count(`${s.name} ${res.status}`);
    const reader = res.body.getReader();
    let chunks = 0;
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
      // Client abort: hang up after a few chunks, like a user pressing "stop".
      if (s.abort && ++chunks >= randInt(1, 4)) {
        ac.abort();
        break;
      }
    }
    count(`${s.name} ${res.status}${s.abort ? ' aborted' : ''}`);
  } catch (err) {
    count(`${s.name} ${ac.signal.aborted ? 'aborted' : (err?.cause?.code ?? err?.name ?? 'error')}`);
  } finally {
    clearTimeout(timer);
    inFlight--;
  }
}

function schedule() {
  // Poisson arrivals: exponential gaps with mean 1/RATE.
  const gapMs = (-Math.log(1 - Math.random()) / RATE) * 1000;
  setTimeout(() => {
    if (inFlight < MAX_IN_FLIGHT) void one();
    else count('skipped (max in flight)');
    schedule();
  }, gapMs);
}

setInterval(() => {
  const line = [...counts.entries()].sort().map(([k, v]) => `${k}: ${v}`).join(', ');
  console.log(`${new Date().toISOString()} in flight ${inFlight}; last 30s: ${line || 'nothing yet'}`);
  counts.clear();
}, 30_000);

console.log(
  `loadgen: ${RATE} req/s to ${TARGET}, models ${MODELS.join(', ')}, faults ${FAULTS ? 'on' : 'off'}, ${USERS.length} users, ${API_KEYS.length} API keys`,
);
schedule();
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
