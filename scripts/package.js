#!/usr/bin/env node
'use strict';
// npm run package: the .deb, the .rpm and the tarball, from one description of the files. Each
// backend runs as its own process, as many at once as there are cores; a line on stderr says
// when each starts and ends. stdout lists what was built, one path a line, in the order below.
// Usage: package.js [--version V] [--out DIR]   (SOURCE_DATE_EPOCH is honoured)
const { spawn } = require('node:child_process');
const { availableParallelism } = require('node:os');
const { join } = require('node:path');
const { describe } = require('./packaging/describe');

const formats = [
  { name: 'deb', script: 'package-deb.js' },
  { name: 'rpm', script: 'package-rpm.js' },
  { name: 'tarball', script: 'package-tarball.js' },
];
const say = (line) => process.stderr.write(`package: ${line}\n`);

function build(format, args) {
  const started = Date.now();
  say(`${format.name} ...`);
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(__dirname, format.script), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (err += b));
    child.on('close', (code) => {
      const took = `${((Date.now() - started) / 1000).toFixed(1)} s`;
      if (code === 0) say(`${format.name} done in ${took}: ${out.trim()}`);
      else say(`${format.name} FAILED after ${took}:\n${err.trim()}`);
      done({ ok: code === 0, path: out.trim() });
    });
  });
}

async function main() {
  const args = process.argv.slice(2);
  try {
    describe(); // a missing or stale executable is refused once, before any backend starts
  } catch (e) {
    process.stderr.write(`package.js: ${e.message}\n`);
    process.exit(1);
  }
  const results = new Array(formats.length);
  let next = 0;
  const worker = async () => {
    while (next < formats.length) {
      const i = next++;
      results[i] = await build(formats[i], args);
    }
  };
  await Promise.all(Array.from({ length: Math.min(formats.length, availableParallelism()) }, worker));
  if (results.some((r) => !r.ok)) process.exit(1);
  process.stdout.write(`${results.map((r) => r.path).join('\n')}\n`);
}

main();
