/**
 * Loaded with `--import` (NODE_OPTIONS) into a tokentap process under test: records every module it resolves
 * (import and require) and writes the list to $RECORD_MODULES_FILE.<pid> at exit, so a test can tell which
 * packages the process loaded.
 */
import { writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const seen = new Set();
registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    seen.add(resolved.url);
    return resolved;
  },
});
process.on('exit', () => {
  if (process.env.RECORD_MODULES_FILE) writeFileSync(`${process.env.RECORD_MODULES_FILE}.${process.pid}`, [...seen].join('\n'));
});
