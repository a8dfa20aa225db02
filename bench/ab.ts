/**
 * `npm run bench:ab -- --a DIR --b DIR` — A/B CPU per request of two builds (see src/bench/overhead/ab.ts).
 * Runs the compiled code in dist/ (build first); plain erasable TypeScript so Node runs it directly.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/bench/overhead/ab.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('dist/ not built: run `npm run build` first\n');
  process.exit(2);
}
const mod = (await import(main.href)) as typeof import('../src/bench/overhead/ab.js');
mod.runAb(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench:ab: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
