/** `npm run bench:ab -- --a DIR --b DIR` — A/B CPU per request of two builds (see src/bench/overhead/ab.ts). */
import { launch } from './launch.ts';

await launch<typeof import('../src/bench/overhead/ab.js')>('bench:ab', new URL('../dist/bench/overhead/ab.js', import.meta.url), (m) => m.runAb);
