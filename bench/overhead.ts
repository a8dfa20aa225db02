/** `npm run bench:overhead` — the proxy overhead benchmark (see src/bench/overhead/main.ts). */
import { launch } from './launch.ts';

await launch<typeof import('../src/bench/overhead/main.js')>(
  'bench:overhead',
  new URL('../dist/bench/overhead/main.js', import.meta.url),
  (m) => m.runOverhead,
);
