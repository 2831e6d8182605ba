#!/usr/bin/env node
'use strict';
// npm run package: the .deb, the .rpm and the tarball, with the -dbgsym .deb and the -debuginfo
// .rpm, from one description of the files, for each of the project's architectures (package.json
// forkd.arches) or those --arch names. Each backend runs as its own process, as many at once as
// there are cores; a line on stderr says when each starts and ends. stdout lists what was built,
// one path a line, in the order below, architecture by architecture.
// Usage: package.js [--version V] [--out DIR] [--arch x64|arm64|all]   (SOURCE_DATE_EPOCH is honoured)
const { spawn } = require('node:child_process');
const { availableParallelism } = require('node:os');
const { join } = require('node:path');
const { describe } = require('./packaging/describe');
const { ArchError, archesFrom, withoutArch } = require('./arch');

const formats = [
  { name: 'deb', script: 'package-deb.js' },
  { name: 'rpm', script: 'package-rpm.js' },
  { name: 'tarball', script: 'package-tarball.js' },
];
const say = (line) => process.stderr.write(`package: ${line}\n`);

function build({ format, arch }, args) {
  const started = Date.now();
  const what = `${format.name} ${arch}`;
  say(`${what} ...`);
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(__dirname, format.script), ...args, '--arch', arch], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (err += b));
    child.on('close', (code) => {
      const took = `${((Date.now() - started) / 1000).toFixed(1)} s`;
      if (code === 0) say(`${what} done in ${took}: ${out.trim().replace(/\n/g, ', ')}`);
      else say(`${what} FAILED after ${took}:\n${err.trim()}`);
      done({ ok: code === 0, path: out.trim() });
    });
  });
}

async function main() {
  const args = withoutArch(process.argv.slice(2));
  let jobs;
  try {
    const arches = archesFrom(process.argv.slice(2));
    // A missing or stale executable is refused once, before any backend starts.
    for (const arch of arches) describe({ arch });
    jobs = arches.flatMap((arch) => formats.map((format) => ({ format, arch })));
  } catch (e) {
    process.stderr.write(`package.js: ${e.message}\n`);
    process.exit(e instanceof ArchError ? 64 : 1);
  }
  const results = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await build(jobs[i], args);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs.length, availableParallelism()) }, worker));
  if (results.some((r) => !r.ok)) process.exit(1);
  process.stdout.write(`${results.map((r) => r.path).join('\n')}\n`);
}

main();
