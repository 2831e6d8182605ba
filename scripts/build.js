#!/usr/bin/env node
'use strict';
// npm run build: the addon (build:native), the TypeScript (build:ts) and the single executable
// (build:exe), for the host, or for the architectures --arch names (x64, arm64, a comma list, or
// all): `npm run build -- --arch arm64` cross-builds out/arm64/NAME on an x64 machine.
// Usage: build.js [--arch x64|arm64|all]
const { spawnSync } = require('node:child_process');
const { join } = require('node:path');
const { archesFrom, root } = require('./arch');

function step(what, args) {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`build: ${what} failed\n`);
    process.exit(r.status || 1);
  }
}

let list;
try {
  list = archesFrom(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`build: ${e.message}\n`);
  process.exit(64);
}
for (const arch of list) step(`the addon for ${arch}`, [join(__dirname, 'build-native.js'), '--arch', arch]);
step('tsc', [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
for (const arch of list) step(`the executable for ${arch}`, [join(__dirname, 'build-executable.js'), '--arch', arch]);
