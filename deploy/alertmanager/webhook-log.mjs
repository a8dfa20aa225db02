// A webhook receiver for the docker-compose stack: prints one line per alert Alertmanager sends.
// Run with plain Node (no dependencies): node webhook-log.mjs  (listens on PORT, default 5001)
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 5001);

createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      for (const a of body.alerts ?? []) {
        const labels = Object.entries(a.labels ?? {})
          .filter(([k]) => k !== 'alertname')
          .map(([k, v]) => `${k}=${v}`)
          .join(' ');
        console.log(`${new Date().toISOString()} ${a.status.toUpperCase()} ${a.labels?.alertname} {${labels}} ${a.annotations?.summary ?? ''}`);
      }
    } catch {
      console.log(`${new Date().toISOString()} ${req.method} ${req.url} (not JSON, ${Buffer.concat(chunks).length} bytes)`);
    }
    res.writeHead(200).end();
  });
}).listen(port, '0.0.0.0', () => console.log(`webhook-log listening on :${port}`));

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
