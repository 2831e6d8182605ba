'use strict';
// The one description of the packaged daemon: identity from package.json, every installed file
// with its content, mode and role. The .deb, .rpm and tarball backends only translate it.
const { readFileSync, statSync } = require('node:fs');
const { dirname, join, resolve } = require('node:path');
const { gzipSync } = require('node:zlib');
const render = require('./render');
const arch = require('../arch');

const root = resolve(__dirname, '..', '..');

/** SOURCE_DATE_EPOCH, else the last commit's time, else 0: every timestamp in the packages. */
function sourceDateEpoch() {
  if (process.env.SOURCE_DATE_EPOCH) return Number(process.env.SOURCE_DATE_EPOCH);
  try {
    const out = require('node:child_process').execFileSync('git', ['log', '-1', '--format=%ct'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return Number(String(out).trim()) || 0;
  } catch {
    return 0;
  }
}

/**
/**
 * @param {{ version?: string, arch?: string, forkd?: object }} [overrides] another version of the
 *   same tree (upgrade tests), another architecture's build (scripts/arch.js; the host's by
 *   default), or other keys of the forkd block (the tests render a daemon that does not listen:
 *   { forkd: { listen: null } })
 */
function describe(overrides = {}) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const f = { ...pkg.forkd, ...overrides.forkd };
  // No listen: a server with no socket (a worker), so no .socket unit and no --listen.
  if (f.listen == null) delete f.listen;
  const target = overrides.arch || arch.hostArch;
  const exe = arch.executablePath(target, f.name);
  const addon = arch.addonPath(target);
  const build = target === arch.hostArch ? 'npm run build' : `npm run build -- --arch ${target}`;
  for (const file of [exe, addon, `${exe}.debug`]) {
    try {
      statSync(file);
    } catch {
      throw new Error(`${file} is missing; run "${build}" first`);
    }
  }
  const newer = newerInput(statSync(exe).mtimeMs);
  if (newer) throw new Error(`${exe} is older than ${newer}; run "${build}" first`);
  // The run and log directories are those of the files in them: the declared pid file, the log.
  const logFile = `/var/log/${f.name}/${f.name}.log`;
  if (!/^\/run\/[^/]+\/[^/]+$/.test(f.pidfile))
    throw new Error(
      `forkd.pidfile ${JSON.stringify(f.pidfile)} is not /run/DIR/FILE, where systemd's RuntimeDirectory= makes it; fix package.json`,
    );
  // The runtime's own defaults, which the unit and the man page state (src/daemon/defaults.ts).
  const defaults = require(join(root, 'dist', 'daemon', 'defaults.js'));
  const id = {
    name: f.name,
    version: overrides.version || pkg.version,
    summary: f.description,
    // forkd.longDescription (optional): the man page's first paragraph and the packages'
    // extended description (render.longDescription).
    longDescription: f.longDescription,
    maintainer: f.maintainer,
    homepage: f.homepage,
    license: pkg.license,
    user: f.user,
    listen: f.listen,
    config: f.config,
    pidfile: f.pidfile,
    runDir: dirname(f.pidfile),
    stateDir: `/var/lib/${f.name}`,
    logDir: dirname(logFile),
    logFile,
    stopTimeoutS: defaults.STOP_TIMEOUT_MS / 1000,
    defaults: `/etc/default/${f.name}`,
    optsVar: optsVar(f.name),
    epoch: sourceDateEpoch(),
    // The architecture by each packaging's name for it (scripts/arch.js).
    arch: { name: target, ...arch.arches[target] },
  };
  // Where the CLI's own help text comes from: the man page says what --help says.
  const cli = require(join(root, 'dist', 'cli.js'));
  // The config file and its man page section: the settings the server declares (its contract,
  // ARCHITECTURE.md §5). Whether it listens is forkd.listen: no listen, no .socket unit.
  const { settings } = require(join(root, 'dist', 'server', 'index.js'));
  if (!Array.isArray(settings))
    throw new Error(
      "dist/server/index.js exports no settings array; export the config file's settings (README: your own server)",
    );
  const identity = { ...f, version: id.version };

  /** @type {{path: string, mode: number, content: Buffer, conffile?: boolean, role: string}[]} */
  const files = [
    { role: 'executable', path: `/usr/sbin/${id.name}`, mode: 0o755, content: readFileSync(exe) },
    // The executable loads this copy of its native addon in preference to writing its own to a
    // temporary directory, which may be noexec (src/daemon/native.ts): the same bytes as the
    // asset inside it, root-owned, beside it as /usr/lib/NAME/ is beside /usr/sbin/NAME.
    { role: 'library', path: `/usr/lib/${id.name}/forkd.node`, mode: 0o644, content: readFileSync(addon) },
    // Likewise the addons of the server's dependencies that it carries (better-sqlite3's), as the
    // build left them beside it: the asset's very bytes, under the asset's key.
    ...dependencyAddons(`${exe}.addons`).map((key) => ({
      role: 'library',
      path: `/usr/lib/${id.name}/${key}`,
      mode: 0o644,
      content: readFileSync(join(`${exe}.addons`, key)),
    })),
    { role: 'unit', path: `${id.name}.service`, mode: 0o644, content: text(render.serviceUnit(id)) },
    ...(id.listen
      ? [{ role: 'unit', path: `${id.name}.socket`, mode: 0o644, content: text(render.socketUnit(id)) }]
      : []),
    {
      role: 'config',
      path: `/etc/init.d/${id.name}`,
      mode: 0o755,
      content: text(render.initScript(id)),
      conffile: true,
    },
    { role: 'config', path: id.config, mode: 0o644, content: text(render.config(id, settings)), conffile: true },
    { role: 'config', path: id.defaults, mode: 0o644, content: text(render.defaults(id)), conffile: true },
    {
      role: 'config',
      path: `/etc/logrotate.d/${id.name}`,
      mode: 0o644,
      content: text(render.logrotate(id)),
      conffile: true,
    },
    {
      role: 'doc',
      path: `/usr/share/man/man8/${id.name}.8.gz`,
      mode: 0o644,
      content: gz(render.manPage(id, cli, identity, settings)),
    },
    { role: 'doc', path: `/usr/share/doc/${id.name}/copyright`, mode: 0o644, content: text(render.copyright(id)) },
    { role: 'doc', path: `/usr/share/doc/${id.name}/changelog.gz`, mode: 0o644, content: gz(render.changelog(id)) },
    {
      role: 'doc',
      path: `/usr/share/doc/${id.name}/LICENSE.node`,
      mode: 0o644,
      content: readFileSync(join(arch.baseDir(target), 'LICENSE')),
    },
  ];
  // The executable's symbols, for the debug packages: the base Node's, found by its build-id.
  const buildId = arch.buildId(exe);
  const debug = {
    buildId,
    path: `/usr/lib/debug/.build-id/${buildId.slice(0, 2)}/${buildId.slice(2)}.debug`,
    content: readFileSync(`${exe}.debug`),
  };
  return { id, files, debug };
}

/** What out/NAME is built from (scripts/build-executable.js): the first of them changed since. */
function newerInput(builtMs) {
  const { readdirSync } = require('node:fs');
  const newer = (p) => {
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st || p === join(root, 'src', 'create')) return undefined; // the generator is not in it
    if (!st.isDirectory()) return st.mtimeMs > builtMs ? p : undefined;
    for (const e of readdirSync(p)) {
      const found = newer(join(p, e));
      if (found) return found;
    }
    return undefined;
  };
  for (const input of ['src', 'native', 'CMakeLists.txt', 'tsconfig.json', 'package.json', 'package-lock.json']) {
    const found = newer(join(root, input));
    if (found) return require('node:path').relative(root, found);
  }
  return undefined;
}

/** The variable in /etc/default/NAME that holds extra options: HELLO_D_OPTS for hello-d. */
function optsVar(name) {
  return `${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_OPTS`;
}

function text(s) {
  return Buffer.from(s);
}

/** gzip -9 without a name or a time (as gzip -9n): the bytes depend on the content alone. */
function gz(s) {
  return gzipSync(Buffer.from(s), { level: 9 });
}

/** The files under dir (EXE.addons, written by scripts/build-executable.js), relative; none if absent. */
function dependencyAddons(dir) {
  const { readdirSync } = require('node:fs');
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
      .sort();
  } catch (e) {
    if (e.code === 'ENOENT') return [];
    throw e;
  }
}

/**
 * Writes the described files under dir (a file with `symlink` is a symbolic link to it), units
 * under unitDir (such as /lib/systemd/system), and sets the mtime of every file and directory
 * there to the epoch (for reproducible archives). Returns the described files with their
 * installed paths (absolute: the unit's under unitDir), sorted by path.
 */
function stageTree(desc, dir, unitDir) {
  const { mkdirSync, writeFileSync, chmodSync, lutimesSync, utimesSync, readdirSync, symlinkSync } = require('node:fs');
  const { dirname } = require('node:path');
  const written = [];
  for (const f of desc.files) {
    const abs = f.role === 'unit' ? `${unitDir}/${f.path}` : f.path;
    const target = join(dir, abs);
    mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
    if (f.symlink !== undefined) symlinkSync(f.symlink, target);
    else {
      writeFileSync(target, f.content);
      chmodSync(target, f.mode);
    }
    written.push({ ...f, path: abs });
  }
  const touch = (p) => {
    for (const e of readdirSync(p, { withFileTypes: true })) if (e.isDirectory()) touch(join(p, e.name));
    utimesSync(p, desc.id.epoch, desc.id.epoch);
    for (const e of readdirSync(p, { withFileTypes: true }))
      if (!e.isDirectory()) lutimesSync(join(p, e.name), desc.id.epoch, desc.id.epoch);
  };
  touch(dir);
  return written.sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * Builds one artefact in a fresh directory under outDir; build(dir) returns the path of what it
 * made there, which is then renamed into outDir. So outDir never holds a half-written package,
 * and the directory is removed whatever happens.
 */
function inStage(outDir, kind, build) {
  const { mkdirSync, mkdtempSync, renameSync, rmSync } = require('node:fs');
  mkdirSync(outDir, { recursive: true });
  const dir = mkdtempSync(join(outDir, `.${kind}-`));
  try {
    const made = build(dir);
    const target = join(outDir, require('node:path').basename(made));
    renameSync(made, target);
    return target;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs a packaging tool; its failure ends the script with what it said. */
function tool(cmd, args, { apt, ...opts } = {}) {
  const { spawnSync } = require('node:child_process');
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.error && r.error.code === 'ENOENT') throw new Error(`${cmd} is not installed (apt-get install ${apt || cmd})`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Common command line of the package-* scripts: [--version V] [--out DIR] [--arch A]. */
function cliArgs(argv) {
  const { parseArgs } = require('node:util');
  const { values } = parseArgs({
    args: argv,
    options: { version: { type: 'string' }, out: { type: 'string' }, arch: { type: 'string' } },
  });
  const target = values.arch || arch.hostArch;
  if (!arch.arches[target]) throw new Error(`unknown architecture "${target}"; use x64 or arm64`);
  return { version: values.version, outDir: resolve(values.out || join(root, 'out')), arch: target };
}

function run(main) {
  try {
    const out = main(cliArgs(process.argv.slice(2))); // one path a line
    process.stdout.write(`${out}\n`);
  } catch (e) {
    process.stderr.write(`${require('node:path').basename(process.argv[1])}: ${e.message}\n`);
    process.exit(1);
  }
}

module.exports = { describe, stageTree, inStage, tool, run, optsVar };
