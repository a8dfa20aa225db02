/**
 * The floor for comparison: a bare node:http server forwarding every request through one undici Pool with
 * dispatch(), with no metering, no access log and no header rules beyond hop-by-hop. What tokentap costs
 * above this is tokentap's own; what this costs above nginx is Node's and undici's.
 *   PORT=8081 UPSTREAM=http://127.0.0.1:8000 node bench/bare-proxy.mjs
 *   npm run bench:ab -- --a bench/bare-proxy.mjs --b dist
 */
import http from 'node:http';
import { createRequire } from 'node:module';

const Pool = createRequire(import.meta.url)('undici/lib/dispatcher/pool.js'); // as tokentap loads it
const pool = new Pool(process.env.UPSTREAM ?? 'http://127.0.0.1:8000', { connections: null, pipelining: 1 });
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host', 'content-length']);

const server = http.createServer((req, res) => {
  const parts = [];
  req.on('data', (c) => parts.push(c));
  req.on('end', () => {
    const body = Buffer.concat(parts);
    const headers = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      if (!HOP.has(req.rawHeaders[i].toLowerCase())) headers.push(req.rawHeaders[i], req.rawHeaders[i + 1]);
    }
    headers.push('content-length', String(body.length));
    pool.dispatch(
      { path: req.url, method: req.method, headers, body },
      {
        onRequestStart() {},
        onResponseStart(_c, status, h) {
          const out = {};
          for (const k in h) if (!HOP.has(k) || k === 'content-length') out[k] = h[k];
          res.writeHead(status, out);
        },
        onResponseData(_c, chunk) {
          res.write(chunk);
        },
        onResponseEnd() {
          res.end();
        },
        onResponseError() {
          res.destroy();
        },
      },
    );
  });
});
server.listen(Number(process.env.PORT ?? 8081), process.env.HOST ?? '127.0.0.1', () => {
  process.stderr.write(`bare proxy on ${process.env.PORT ?? 8081}\n`);
});
