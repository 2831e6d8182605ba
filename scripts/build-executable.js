#!/usr/bin/env node
'use strict';
// Builds the single executable out/<name> from dist/ and the addon (ARCHITECTURE.md §3), offline:
//   1. esbuild bundles dist/main.js and its npm dependencies into one CommonJS file;
//   2. @yao-pkg/pkg's SEA pipeline turns it into an executable, with the base Node binary from the
//      npm package node-linux-<arch> (pinned) instead of a download, stripped beforehand: its
//      symbols go to a debug file beside the executable (out/<name>.debug) for the debug packages.
// pkg runs on the pinned Node of the host (pkg needs Node >= 22), which also makes the SEA blob;
// another architecture's base has the very same version, so the blob fits it too.
// Usage: build-executable.js [OUTPUT] [--entry FILE] [--arch x64|arm64]
//   --entry FILE: FILE instead of dist/main.js; --arch: out/ARCH/<name> from build/ARCH/ (arch.js)
const { spawnSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const {
  copyFileSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} = require('node:fs');
const { dirname, join, resolve } = require('node:path');
const arch = require('./arch');

const root = resolve(__dirname, '..');
const pkgJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const name = pkgJson.forkd.name;
// --entry FILE: build another program on the same runtime (the tests build their fixture daemon).
const entryAt = process.argv.indexOf('--entry');
const entry = entryAt > 1 ? resolve(process.argv[entryAt + 1]) : undefined;
const positional = arch
  .withoutArch(process.argv.slice(2))
  .filter((a, i, all) => a !== '--entry' && all[i - 1] !== '--entry');
const baseVersion = require(join(root, 'node_modules', `node-linux-${arch.hostArch}`, 'package.json')).version;
const hostNode = require.resolve(`node-linux-${arch.hostArch}/bin/node`, { paths: [root] });

function fail(message) {
  process.stderr.write(`build-executable: ${message}\n`);
  process.exit(1);
}

// Re-run on the pinned Node: the blob must be made by the very Node version it is injected into.
if (process.version !== `v${baseVersion}`) {
  const r = spawnSync(hostNode, [__filename, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

/**
 * What to build for one architecture: its addon, its output, and its base (the pinned Node of that
 * architecture, stripped; arch.leanBase). Everything architecture-specific is here.
 */
function target(which) {
  const base = arch.leanBase(which);
  const version = require(join(arch.baseDir(which), 'package.json')).version;
  if (version !== baseVersion)
    fail(`node-linux-${which} is ${version}, the host's Node ${baseVersion}: the SEA blob needs the very same version`);
  return {
    arch: which,
    addon: arch.addonPath(which),
    output: resolve(positional[0] || arch.executablePath(which, name)),
    base,
  };
}

let t;
try {
  // The host's by default (the tests build fixtures with it); npm run build passes each of the project's.
  const list = arch.archesFrom(process.argv.slice(2), () => [arch.hostArch]);
  if (list.length !== 1) fail("one --arch at a time (npm run build builds each of the project's)");
  t = target(list[0]);
} catch (e) {
  if (e instanceof arch.ArchError) fail(e.message);
  throw e;
}
const output = t.output;

// pkg's SEA function, its options and its nodePath short-cut are internals of pkg 6.23.0: refuse
// any other version loudly rather than let it fall back to downloading a Node binary.
const pkgVersion = require(join(root, 'node_modules', '@yao-pkg', 'pkg', 'package.json')).version;
if (pkgVersion !== '6.23.0')
  fail(
    `@yao-pkg/pkg is ${pkgVersion}; this script drives pkg 6.23.0's internals. Re-check lib-es5/sea.js before changing the pin.`,
  );
const sea = require(join(root, 'node_modules', '@yao-pkg', 'pkg', 'lib-es5', 'sea.js')).default;
if (typeof sea !== 'function') fail('@yao-pkg/pkg/lib-es5/sea.js no longer exports the SEA builder');

const addon = t.addon;
const main = entry || join(root, 'dist', 'main.js');
for (const f of [addon, main]) {
  try {
    statSync(f);
  } catch {
    fail(`${f} is missing; run "npm run build:native -- --arch ${t.arch} && npm run build:ts" first`);
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
  const bundle = join(root, 'build', 'sea', 'main.js');
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
  const staged = await stage(code, `/tmp/${name}-sea-${createHash('sha256').update(code).digest('hex').slice(0, 16)}`);
  // Written beside the output and renamed over it: a running daemon keeps its (old) file, and a
  // failed build leaves no half-written executable.
  const partial = `${output}.partial-${process.pid}`;
  mkdirSync(dirname(output), { recursive: true });
  try {
    await buildSea(staged, partial);
    // The symbols of the base it was made from, for the debug packages (same build-id).
    copyFileSync(t.base.debug, `${partial}.debug`);
    renameSync(`${partial}.debug`, `${output}.debug`);
    renameSync(partial, output);
  } finally {
    rmSync(dirname(staged), { recursive: true, force: true });
    rmSync(partial, { force: true });
    rmSync(`${partial}.debug`, { force: true });
  }
  if (downloads.length) fail(`pkg tried to download: ${downloads.join('; ')}`);

  const sha = createHash('sha256').update(readFileSync(output)).digest('hex');
  const size = statSync(output).size;
  const base = statSync(t.base.node).size;
  const unstripped = statSync(t.base.unstripped).size;
  process.stdout.write(
    `${output}: ${size} bytes (base Node ${baseVersion} ${t.arch}: ${unstripped}, stripped ${base}, +${size - base}), build-id ${t.base.buildId}, sha256 ${sha}\n`,
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
    targets: [{ nodeRange: `node${baseVersion}`, platform: 'linux', arch: t.arch, output: outFile }],
    signature: false,
    // The npm-pinned base binary; without it pkg downloads one from outside the npm registry.
    nodePath: t.base.node,
    // For another architecture pkg would run that base to learn its version, then download a host
    // Node of it to make the blob: useLocalNode makes it take this process's (checked above to be
    // the same version) for both, while nodePath still names the base the blob goes into.
    useLocalNode: t.arch !== arch.hostArch,
    seaConfig: {
      // NODE_OPTIONS from the starting shell must not change the daemon's runtime.
      execArgvExtension: 'none',
      useCodeCache: false,
      assets: { 'forkd.node': addon },
    },
  });
}

build().catch((e) => fail(e?.stack ? e.stack : String(e)));
