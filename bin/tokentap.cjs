#!/usr/bin/env -S node --max-semi-space-size=4
// The `tokentap` command. Kept tiny and in old JavaScript (ES5, and no `import` keyword where the parser sees it)
// so that any Node.js can read it and say clearly that it is too old before dist/cli.js, which needs Node.js >= 22.12,
// is loaded.
//
// Runtime flags: tokentap runs with --max-semi-space-size=4 (a smaller young generation: lower RSS, shorter GC
// pauses). Run as a program (global install, npm pack, npx, systemd), the shebang line above passes it (env -S:
// coreutils >= 8.30, BSD/macOS env; not BusyBox). Started as `node bin/tokentap.cjs` without the flag, the bin
// replaces itself (process.execve, same pid) with a node that has it; the flag is never added twice, and a flag
// already given (on the command line or in NODE_OPTIONS) is left as it is. Cluster workers inherit it.
'use strict';

var FLAG = '--max-semi-space-size=4';
var MIN = [22, 12];

var v = process.versions.node.split('.');
if (+v[0] < MIN[0] || (+v[0] === MIN[0] && +v[1] < MIN[1])) {
  process.stderr.write('tokentap needs Node.js >= ' + MIN.join('.') + '; this is ' + process.version + '\n');
  process.exit(2);
}

function hasSemiSpaceFlag(args) {
  return args.some(function (a) {
    return a.replace(/_/g, '-').indexOf('--max-semi-space-size') === 0;
  });
}

var nodeOptions = (process.env.NODE_OPTIONS || '').split(/\s+/);
if (
  !hasSemiSpaceFlag(process.execArgv) &&
  !hasSemiSpaceFlag(nodeOptions) &&
  typeof process.execve === 'function' && // Node.js >= 22.15; on older ones the proxy runs without the flag
  process.platform !== 'win32' && // no execve there
  typeof process.send !== 'function' // not with an IPC channel (a cluster worker or a forked child): keep it
) {
  process.execve(
    process.execPath,
    [process.execPath].concat(process.execArgv, [FLAG, process.argv[1]], process.argv.slice(2)),
    process.env
  );
}

// `import()` through Function so that a parser older than dynamic import never meets it.
var load = new Function('specifier', 'return import(specifier)');
var cli = require('path').join(__dirname, '..', 'dist', 'cli.js');
load(require('url').pathToFileURL(cli).href).catch(function (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).indexOf(cli) >= 0) {
    process.stderr.write('tokentap: ' + cli + ' is missing: run `npm run build` (or `npm install`) first\n');
  } else {
    process.stderr.write('tokentap: ' + ((err && err.stack) || err) + '\n');
  }
  process.exit(2);
});
