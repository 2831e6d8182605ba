#!/usr/bin/env node
'use strict';
// Builds the single executable out/<name> from dist/ and the addon (ARCHITECTURE.md §3), offline:
//   1. esbuild bundles dist/main.js and its npm dependencies into one CommonJS file;
//   2. @yao-pkg/pkg's SEA pipeline turns it into an executable, with the base Node binary from the
//      npm package node-linux-<arch> (pinned) instead of a download, stripped beforehand: its
//      symbols go to a debug file beside the executable (out/<name>.debug) for the debug packages.
// What the server needs beyond its code travels as SEA assets: the native addons of its
// dependencies (found while bundling, checked to load on the pinned Node), the files package.json's
// forkd.assets declares, and pino's worker-thread files. What cannot travel fails the build here,
// with a message naming the module and the fix, never the daemon at run time.
// pkg runs on the pinned Node of the host (pkg needs Node >= 22), which also makes the SEA blob;
// another architecture's base has the very same version, so the blob fits it too.
// Usage: build-executable.js [OUTPUT] [--entry FILE] [--arch x64|arm64]
//   --entry FILE: FILE instead of dist/main.js; --arch: out/ARCH/<name> from build/ARCH/ (arch.js)
const { spawnSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const {
  copyFileSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} = require('node:fs');
const { basename, dirname, join, relative, resolve, sep } = require('node:path');
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
  // A private build directory: the tests build several executables of one project at once.
  mkdirSync(join(root, 'build'), { recursive: true });
  const seaDir = mkdtempSync(join(root, 'build', 'sea-'));
  // Removed however the build ends: fail() exits at once.
  process.on('exit', () => rmSync(seaDir, { recursive: true, force: true }));
  await buildIn(seaDir);
}

async function buildIn(seaDir) {
  const bundle = join(seaDir, 'main.js');
  const addons = new Map(); // asset key (the file's path in the project) -> file
  const { metafile } = await bundleMain(bundle, addons);
  checkAddons(addons, metafile);
  const carried = stripAddons(addons, join(seaDir, 'addons'));
  const assets = {
    'forkd.node': addon,
    ...Object.fromEntries(carried),
    ...declaredAssets(seaDir),
    ...(await workerFiles(metafile, seaDir)),
  };

  // Node records the main script's path in the blob: stage the bundle at a path that depends on
  // its content alone, so that the same sources give the same bytes in any checkout.
  const code = readFileSync(bundle);
  rmSync(bundle, { force: true });
  const staged = await stage(code, `/tmp/${name}-sea-${createHash('sha256').update(code).digest('hex').slice(0, 16)}`);
  // Written beside the output and renamed over it: a running daemon keeps its (old) file, and a
  // failed build leaves no half-written executable.
  const partial = `${output}.partial-${process.pid}`;
  mkdirSync(dirname(output), { recursive: true });
  try {
    await buildSea(staged, partial, assets);
    // The symbols of the base it was made from, for the debug packages (same build-id).
    copyFileSync(t.base.debug, `${partial}.debug`);
    renameSync(`${partial}.debug`, `${output}.debug`);
    // The dependencies' addons as embedded, for the packages to install (describe.js).
    rmSync(`${output}.addons`, { recursive: true, force: true });
    if (carried.size) cpSync(join(seaDir, 'addons'), `${output}.addons`, { recursive: true });
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
  const more = carried.size ? `; ${carried.size} dependency addon(s)` : '';
  process.stdout.write(
    `${output}: ${size} bytes (base Node ${baseVersion} ${t.arch}: ${unstripped}, stripped ${base}, +${size - base}${more}), build-id ${t.base.buildId}, sha256 ${sha}\n`,
  );
}

/**
 * The dependencies' addons as the executable carries them: stripped as forkd's own is (node-gyp
 * leaves its builds unstripped, which lintian refuses in a package), in dir under their asset
 * keys. Beside OUTPUT as OUTPUT.addons/, they are what the packages install at /usr/lib/NAME/KEY,
 * where the loader takes an installed copy of the very same bytes before any temporary directory
 * (which /run and /tmp mounted noexec would refuse). Returns asset key -> stripped file.
 */
function stripAddons(addons, dir) {
  const carried = new Map();
  for (const [key, file] of addons) {
    const copy = join(dir, key);
    mkdirSync(dirname(copy), { recursive: true });
    const r = spawnSync('strip', ['--strip-unneeded', '--remove-section=.comment', '-o', copy, file], {
      encoding: 'utf8',
    });
    if (r.status !== 0)
      fail(`cannot strip ${key} (strip: ${(r.stderr || String(r.error)).trim()}); is binutils installed?`);
    carried.set(key, copy);
  }
  return carried;
}

/** The runtime's modules that the generated shims call (compiled by build:ts). */
const runtimeModule = (file) => join(root, 'dist', 'daemon', file);

/**
 * Bundles main (behind a small entry that installs the worker-file overrides first) into one
 * CommonJS file; native addons of dependencies are collected into addons as it goes.
 */
async function bundleMain(outfile, addons) {
  const entryCode = [
    `require(${JSON.stringify(runtimeModule('workers.js'))}).installBundledWorkers();`,
    `require(${JSON.stringify(main)});`,
  ].join('\n');
  return require('esbuild').build({
    stdin: { contents: entryCode, resolveDir: root, sourcefile: 'forkd-entry.js', loader: 'js' },
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${baseVersion}`,
    plugins: [nativeAddons(addons)],
    metafile: true,
    absWorkingDir: root,
    // Name modules by their path in the project, not by where a symlinked node_modules points:
    // the same sources then give the same bytes in any checkout.
    preserveSymlinks: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
}

/** The file an input of esbuild's metafile names ("forkd-addon:node_modules/x/y.node", "dist/main.js"). */
const inputPath = (input) => resolve(root, input.replace(/^[a-z-]+:/, ''));

/** The package directory (the one with package.json) that holds file. */
function packageRoot(file) {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir))
    if (existsSync(join(dir, 'package.json'))) return dir;
  return dirname(file);
}

/** A module's name for messages: "better-sqlite3" for a file in node_modules, else its path. */
function moduleName(file) {
  const rel = relative(root, file).split(sep);
  const at = rel.lastIndexOf('node_modules');
  if (at < 0) return rel.join('/');
  return rel[at + 1].startsWith('@') ? `${rel[at + 1]}/${rel[at + 2]}` : rel[at + 1];
}

/**
 * esbuild plugin: each native addon a dependency loads (a require of a .node file, `bindings`,
 * `node-gyp-build`) becomes a SEA asset named by its path in the project, and the module that
 * loaded it a shim that loads it through src/daemon/native.ts (no file name on disk, one dlopen
 * path per addon). forkd's own addon stays external: native.ts loads it from its own asset.
 */
function nativeAddons(addons) {
  const embed = (file) => {
    const key = relative(root, file).split(sep).join('/');
    addons.set(key, file);
    return key;
  };
  const loader = JSON.stringify(runtimeModule('native.js'));
  const shim = (body) => ({
    contents: `const { loadEmbeddedAddon } = require(${loader});\n${body}\n`,
    resolveDir: root,
    loader: 'js',
  });
  return {
    name: 'forkd-native-addons',
    setup(b) {
      b.onResolve({ filter: /\.node$/ }, (args) => {
        let file;
        try {
          file = require.resolve(args.path, { paths: [args.resolveDir] });
        } catch {
          file = resolve(args.resolveDir, args.path);
        }
        // forkd's own addon (the dev build's path; the executable carries the target's as an asset).
        if (file === addon || file === arch.addonPath(arch.hostArch)) return { path: args.path, external: true };
        if (!existsSync(file)) {
          const pkg = moduleName(args.importer);
          const fix = args.importer.includes(`${sep}node_modules${sep}`) ? `npm rebuild ${pkg}` : 'npm run build';
          return { errors: [{ text: `${pkg} loads the native addon ${args.path}, which is not built; run "${fix}"` }] };
        }
        return { path: embed(file), namespace: 'forkd-addon' };
      });
      b.onLoad({ filter: /.*/, namespace: 'forkd-addon' }, (args) =>
        shim(`module.exports = loadEmbeddedAddon(${JSON.stringify(args.path)});`),
      );
      b.onResolve({ filter: /^(bindings|node-gyp-build)$/ }, (args) => ({
        path: args.importer,
        namespace: `forkd-${args.path}`,
      }));
      // bindings('name.node'): the names the importer passes, each resolved as bindings would.
      b.onLoad({ filter: /.*/, namespace: 'forkd-bindings' }, (args) => {
        const pkg = moduleName(args.path);
        const source = readFileSync(args.path, 'utf8');
        const names = [
          ...source.matchAll(/bindings['"]\)\s*\(\s*['"]([^'"]+)['"]|bindings\s*:\s*['"]([^'"]+)['"]/g),
        ].map((m) => m[1] || m[2]);
        if (names.length === 0)
          return {
            errors: [
              {
                text: `${pkg} loads a native addon through bindings with a name the build cannot read; the single executable cannot carry it. Use a version of ${pkg} that names its addon, or leave it out of the server`,
              },
            ],
          };
        const bindings = require(require.resolve('bindings', { paths: [dirname(args.path)] }));
        const keys = {};
        for (const n of names) {
          const withExt = n.endsWith('.node') ? n : `${n}.node`;
          let file;
          try {
            file = bindings({ bindings: withExt, module_root: packageRoot(args.path), path: true });
          } catch {
            return {
              errors: [
                {
                  text: `${pkg}'s native addon ${withExt} is not built; run "npm rebuild ${pkg}" (see README.md, "Native addons")`,
                },
              ],
            };
          }
          keys[withExt] = embed(file);
        }
        return shim(`const keys = ${JSON.stringify(keys)};
module.exports = function bindings(opts) {
  let name = typeof opts === 'string' ? opts : (opts && opts.bindings) || 'bindings.node';
  if (!name.endsWith('.node')) name += '.node';
  if (!keys[name]) throw new Error(\`bindings: \${name} was not embedded in this executable\`);
  return loadEmbeddedAddon(keys[name]);
};`);
      });
      // node-gyp-build(dir): the prebuild or build node-gyp-build picks for the pinned Node.
      b.onLoad({ filter: /.*/, namespace: 'forkd-node-gyp-build' }, (args) => {
        const pkg = moduleName(args.path);
        const nodeGypBuild = require(require.resolve('node-gyp-build', { paths: [dirname(args.path)] }));
        let file;
        try {
          file = nodeGypBuild.path(packageRoot(args.path));
        } catch (e) {
          return {
            errors: [
              {
                text: `${pkg} has no native addon for the pinned Node ${baseVersion} (${String(e.message).split('\n')[0]}); run "npm rebuild ${pkg}" (see README.md, "Native addons")`,
              },
            ],
          };
        }
        const key = embed(file);
        return shim(`module.exports = function nodeGypBuild() { return loadEmbeddedAddon(${JSON.stringify(key)}); };
module.exports.path = function () { return ${JSON.stringify(key)}; };`);
      });
    },
  };
}

/**
 * Every embedded addon must load on the pinned Node (each is tried in a child process of it),
 * and a bundled package that carries a .node file none of whose addons were embedded loads it in
 * a way the build cannot follow: both fail the build, naming the package and the fix.
 */
function checkAddons(addons, metafile) {
  // A dependency's addon is built for this machine's architecture by npm install; another's would
  // need a cross-built copy, which nothing here makes.
  if (t.arch !== arch.hostArch && addons.size)
    fail(
      `${[...addons.values()].map(moduleName).join(', ')} carries a native addon built for ${arch.hostArch}; an ${t.arch} executable cannot carry it (dependency addons are not cross-built). Build for ${arch.hostArch} only, or leave it out of the server`,
    );
  for (const [key, file] of addons) {
    const pkg = moduleName(file);
    const r = spawnSync(process.execPath, ['-e', 'process.dlopen({ exports: {} }, process.argv[1])', file], {
      encoding: 'utf8',
    });
    if (r.status === 0) continue;
    const abi = /NODE_MODULE_VERSION (\d+)\. This version of Node.js requires\s+NODE_MODULE_VERSION (\d+)/.exec(
      r.stderr,
    );
    fail(
      abi
        ? `${pkg}'s native addon ${key} is built for another Node (ABI ${abi[1]}); the pinned Node ${baseVersion} needs ABI ${abi[2]}. Run "node scripts/rebuild-addons.js" (npm run build does) to rebuild it for the pinned Node (README.md, "Native addons")`
        : `${pkg}'s native addon ${key} does not load on the pinned Node ${baseVersion}: ${/Error: (.*)/.exec(r.stderr)?.[1] ?? r.stderr.trim()}`,
    );
  }
  const embeddedFrom = new Set([...addons.values()].map(packageRoot));
  const packages = new Set(
    Object.keys(metafile.inputs)
      .filter((f) => f.includes('node_modules/'))
      .map((f) => packageRoot(inputPath(f))),
  );
  for (const dir of packages) {
    if (embeddedFrom.has(dir)) continue;
    const found = nodeFiles(dir);
    if (found.length)
      fail(
        `${moduleName(join(dir, 'x'))} carries the native addon ${relative(root, found[0])}, but loads it in a way the build cannot follow (neither bindings, node-gyp-build nor a require of the file), so the single executable cannot carry it. Use a version of it that loads its addon one of those ways, or leave it out of the server`,
      );
  }
}

/** The .node files of a package, outside its own node_modules and build intermediates. */
function nodeFiles(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name.startsWith('obj')) continue;
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith('.node')) out.push(join(d, e.name));
    }
  };
  walk(dir);
  return out;
}

/**
 * The files package.json's forkd.assets declares, as SEA assets "asset:NAME" (src/daemon/assets.ts
 * reads them with asset(NAME)), plus their list.
 */
function declaredAssets(seaDir) {
  const { assetListKey, assetPrefix, declaredAssets } = require(runtimeModule('assets.js'));
  let names;
  try {
    names = declaredAssets(root);
  } catch (e) {
    fail(e.message);
  }
  const list = join(seaDir, 'assets.txt');
  writeFileSync(list, `${names.join('\n')}\n`);
  return { [assetListKey]: list, ...Object.fromEntries(names.map((n) => [assetPrefix + n, join(root, n)])) };
}

/**
 * Files that run in worker threads. pino's transports (thread-stream) start a Worker from a file
 * beside the module, which the executable does not have: each such file is bundled on its own
 * (self-contained) and carried as an asset; at run time src/daemon/workers.ts writes them out on
 * first use and points pino at them through its __bundlerPathsOverrides. Transport targets other
 * than pino/file are the packages forkd.workers lists ("pino-pretty"). Any other bundled module
 * that starts a Worker fails the build.
 */
async function workerFiles(metafile, seaDir) {
  const inputs = Object.keys(metafile.inputs).map(inputPath);
  const threadStream = inputs.find((f) => f.endsWith(`${sep}thread-stream${sep}index.js`));
  const entries = {};
  if (threadStream) {
    entries['thread-stream-worker'] = join(dirname(threadStream), 'lib', 'worker.js');
    const pino = inputs.find((f) => f.endsWith(`${sep}pino${sep}lib${sep}transport.js`));
    if (pino) {
      entries['pino-worker'] = join(dirname(pino), 'worker.js');
      entries['pino/file'] = join(dirname(pino), '..', 'file.js');
    }
    const declared = pkgJson.forkd.workers ?? [];
    if (!Array.isArray(declared)) fail('forkd.workers in package.json must be a list of module names');
    for (const m of declared) {
      try {
        entries[m] = require.resolve(m, { paths: [root] });
      } catch {
        fail(`forkd.workers names ${m}, which is not installed; run "npm install ${m}" or remove it from the list`);
      }
    }
  }
  // A transport the server names (target: 'pino-pretty') but forkd.workers does not list would
  // make pino throw at start in the executable: refuse it here. Only installed modules count.
  if (threadStream)
    for (const f of inputs.filter((i) => !i.includes(`${sep}node_modules${sep}`) && existsSync(i)))
      for (const [, target] of readFileSync(f, 'utf8').matchAll(/\btarget\s*:\s*['"]([^'"]+)['"]/g)) {
        if (entries[target] || target.startsWith('.') || target.startsWith('/')) continue;
        let installed = true;
        try {
          require.resolve(target, { paths: [root] });
        } catch {
          installed = false;
        }
        if (installed)
          fail(
            `${relative(root, f)} names the pino transport ${target}, which the executable carries only if forkd.workers lists it: add "${target}" to forkd.workers in package.json (README.md, "Worker threads")`,
          );
      }
  const handled = threadStream ? dirname(threadStream) + sep : undefined;
  for (const f of inputs) {
    if ((handled && f.startsWith(handled)) || !existsSync(f)) continue;
    if (/\bnew\s+Worker\s*\(/.test(readFileSync(f, 'utf8')))
      fail(
        `${moduleName(f)} starts a worker thread from a file (new Worker in ${relative(root, f)}), which the single executable does not carry. Give the Worker its code instead (new Worker(code, { eval: true })), or leave that module out of the server; pino transports are handled (README.md, "Worker threads")`,
      );
  }
  const names = Object.keys(entries);
  if (names.length === 0) return {};
  const dir = join(seaDir, 'workers');
  mkdirSync(dir);
  const files = {};
  for (const [i, n] of names.entries()) {
    const file = `${i}-${basename(n).replace(/[^A-Za-z0-9._-]/g, '_')}${n.endsWith('.js') ? '' : '.js'}`;
    await require('esbuild').build({
      entryPoints: [entries[n]],
      outfile: join(dir, file),
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: `node${baseVersion}`,
      absWorkingDir: root,
      preserveSymlinks: true,
      legalComments: 'none',
      logLevel: 'warning',
    });
    files[n] = file;
  }
  const { workerListKey, workerPrefix } = require(runtimeModule('workers.js'));
  writeFileSync(join(dir, 'list.json'), JSON.stringify(files));
  return {
    [workerListKey]: join(dir, 'list.json'),
    ...Object.fromEntries(Object.values(files).map((f) => [workerPrefix + f, join(dir, f)])),
  };
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

async function buildSea(mainFile, outFile, assets) {
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
      assets,
    },
  });
}

build().catch((e) => {
  // esbuild has shown each error with its place; the last line says what they were.
  if (Array.isArray(e?.errors) && e.errors.length) fail(e.errors.map((x) => x.text).join('; '));
  fail(e?.stack ? e.stack : String(e));
});
