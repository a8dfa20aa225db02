/**
 * Runs a benchmark entry point compiled in dist/ (the npm scripts build first) with the command-line
 * arguments, and exits with the code it returns. Plain erasable TypeScript so Node runs it directly.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export async function launch<M>(label: string, compiled: URL, entry: (mod: M) => (argv: string[]) => Promise<number>): Promise<void> {
  if (!existsSync(fileURLToPath(compiled))) {
    process.stderr.write('dist/ not built: run `npm run build` first\n');
    process.exit(2);
  }
  const mod = (await import(compiled.href)) as M;
  entry(mod)(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${label}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
