#!/usr/bin/env node
'use strict';
// npm run build:native: cmake-js compiles native/ into build/Release/forkd.node for the host, or
// for another architecture (--arch arm64) into build/ARCH/Release/forkd.node with the GNU cross
// toolchain of that architecture (gcc-aarch64-linux-gnu on Debian). The Node-API headers come from
// the npm package node-api-headers whatever the target: no download. Then dependencies' own addons
// built for another Node than the pinned one are rebuilt (rebuild-addons.js).
// Usage: build-native.js [--arch x64|arm64|all]
const { spawnSync } = require('node:child_process');
const { join } = require('node:path');
const { arches, hostArch, archesFrom, buildDir, root } = require('./arch');

function fail(message, code = 1) {
  process.stderr.write(`build-native: ${message}\n`);
  process.exit(code);
}

/** cmake-js's arguments for arch: none for the host, a cross toolchain for another. */
function toolchain(arch) {
  if (arch === hostArch) return [];
  const { gnu, cpu } = arches[arch];
  for (const tool of ['gcc', 'g++', 'strip']) {
    if (spawnSync(`${gnu}-${tool}`, ['--version']).error)
      fail(`${gnu}-${tool} is missing; install the cross toolchain: apt-get install g++-${gnu}`, 69);
  }
  return [
    '--CDCMAKE_SYSTEM_NAME=Linux',
    `--CDCMAKE_SYSTEM_PROCESSOR=${cpu}`,
    `--CDCMAKE_C_COMPILER=${gnu}-gcc`,
    `--CDCMAKE_CXX_COMPILER=${gnu}-g++`,
  ];
}

function buildNative(arch) {
  const cmakeJs = join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
  const r = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', buildDir(arch), ...toolchain(arch)], {
    cwd: root,
    stdio: 'inherit',
  });
  if (r.status !== 0) fail(`cmake-js failed for ${arch} (exit ${r.status})`);
}

module.exports = { buildNative };
if (require.main === module) {
  let list;
  try {
    list = archesFrom(process.argv.slice(2));
  } catch (e) {
    fail(e.message, 64);
  }
  for (const arch of list) buildNative(arch);
  // Dependencies' addons that npm install compiled for another Node are rebuilt for the pinned one.
  const r = spawnSync(process.execPath, [join(__dirname, 'rebuild-addons.js')], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status || 1);
}
