'use strict';
// The one description of the packaged daemon, in the way of nfpm's nfpm.yaml: the identity from
// package.json's forkd block; `contents`, every installed file with its destination, mode, owner
// and type (config, license, ...), the files of one format only among them; and per format
// (`deb`, `rpm`) its own fields and maintainer scripts. It reads and renders, and writes
// nothing: the backends (package-deb.js, package-rpm.js, package-tarball.js) turn it into
// packages, with the staging and tool running they share in backend.js.
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
 * One entry of `contents`, as nfpm's:
 * @typedef {object} Entry
 * @property {string} dst where it is installed
 * @property {'' | 'config' | 'config|noreplace' | 'doc' | 'license' | 'dir' | 'symlink'} type
 *   '': a file. 'config': a conffile on deb, %config on rpm. 'config|noreplace': a conffile on
 *   deb, %config(noreplace) on rpm (the admin's changes survive an upgrade either way). 'doc',
 *   'license': %doc, %license on rpm, a file elsewhere. 'dir': a directory the package owns,
 *   %dir on rpm (a .deb or a tarball holds every directory of its files anyway). 'symlink': a
 *   symbolic link to `target`.
 * @property {number} mode
 * @property {string} owner
 * @property {string} group
 * @property {Buffer} [content] a file's bytes
 * @property {string} [target] a symlink's target
 * @property {'deb' | 'rpm' | 'tarball'} [packager] in this format's package only
 * @property {{ deb?: Partial<Entry>, rpm?: Partial<Entry>, tarball?: Partial<Entry> }} [overrides]
 *   what differs in one format
 */

/**
 * The description: { id, description, contents, deb, rpm, debug }. id: the identity and paths
 * the texts are rendered from; description: the extended description's lines; contents: Entry[];
 * deb, rpm: each format's fields and maintainer scripts; debug: the build-id and the contents of
 * the debug packages (NAME-dbgsym, NAME-debuginfo).
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
  for (const p of [exe, addon, `${exe}.debug`]) {
    try {
      statSync(p);
    } catch {
      throw new Error(`${p} is missing; run "${build}" first`);
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

  const docDir = `/usr/share/doc/${id.name}`;
  /** @type {Entry[]} */
  const files = [
    file(`/usr/sbin/${id.name}`, 0o755, readFileSync(exe)),
    // The executable loads this copy of its native addon in preference to writing its own to a
    // temporary directory, which may be noexec (src/daemon/native.ts): the same bytes as the
    // asset inside it, root-owned, beside it as /usr/lib/NAME/ is beside /usr/sbin/NAME.
    file(`/usr/lib/${id.name}/forkd.node`, 0o644, readFileSync(addon)),
    // Likewise the addons of the server's dependencies that it carries (better-sqlite3's), as the
    // build left them beside it: the asset's very bytes, under the asset's key.
    ...dependencyAddons(`${exe}.addons`).map((key) =>
      file(`/usr/lib/${id.name}/${key}`, 0o644, readFileSync(join(`${exe}.addons`, key))),
    ),
    unit(`${id.name}.service`, text(render.serviceUnit(id))),
    ...(id.listen ? [unit(`${id.name}.socket`, text(render.socketUnit(id)))] : []),
    // A conffile on Debian, as debhelper makes every file under /etc; not configuration in RPM's
    // convention.
    file(`/etc/init.d/${id.name}`, 0o755, text(render.initScript(id)), {
      type: 'config',
      overrides: { rpm: { type: '' } },
    }),
    file(id.config, 0o644, text(render.config(id, settings)), { type: 'config|noreplace' }),
    file(id.defaults, 0o644, text(render.defaults(id)), { type: 'config|noreplace' }),
    file(`/etc/logrotate.d/${id.name}`, 0o644, text(render.logrotate(id)), { type: 'config|noreplace' }),
    file(`/usr/share/man/man8/${id.name}.8.gz`, 0o644, gz(render.manPage(id, cli, identity, settings)), {
      type: 'doc',
    }),
    file(`${docDir}/copyright`, 0o644, text(render.copyright(id)), { type: 'license' }),
    file(`${docDir}/changelog.gz`, 0o644, gz(render.changelog(id)), { type: 'doc' }),
    // The licences of Node.js and of the libraries it bundles, all of which the executable embeds.
    file(`${docDir}/LICENSE.node`, 0o644, readFileSync(join(arch.baseDir(target), 'LICENSE')), { type: 'license' }),
    // Why lintian's tags about the upstream Node.js inside the executable do not apply.
    file(`/usr/share/lintian/overrides/${id.name}`, 0o644, text(render.lintianOverrides(id)), { packager: 'deb' }),
    file('/INSTALL', 0o644, text(render.installNote(id)), { packager: 'tarball' }),
  ];
  const contents = [
    // The directories that are the package's own, each nested one too (dependencies' addons under
    // /usr/lib/NAME/), not /etc or /usr/lib.
    ...ownDirectories(files, [`/etc/${id.name}`, `/usr/lib/${id.name}`, docDir]).map(dir),
    // rpmlint wants the directory the logrotate file rotates in packaged (an error,
    // logrotate-log-dir-not-packaged). On Debian systemd's LogsDirectory= and the init script
    // create it; a .deb cannot record its owner.
    { ...dir(id.logDir), owner: id.user, group: id.user, packager: 'rpm' },
    ...files,
  ];
  // The executable's symbols, for the debug packages (NAME-dbgsym, NAME-debuginfo): the base
  // Node's, found by its build-id, where gdb and elfutils look them up.
  const buildId = arch.buildId(exe);
  const buildIdDir = `/usr/lib/debug/.build-id/${buildId.slice(0, 2)}`;
  const debug = {
    buildId,
    contents: [
      dir(buildIdDir),
      file(`${buildIdDir}/${buildId.slice(2)}.debug`, 0o644, readFileSync(`${exe}.debug`)),
      // Its doc directory is the main package's (lintian: no copyright file of its own needed).
      {
        dst: `${docDir}-dbgsym`,
        type: 'symlink',
        target: id.name,
        mode: 0o777,
        owner: 'root',
        group: 'root',
        packager: 'deb',
      },
    ],
  };
  return {
    id,
    // The extended description, as lines (render.longDescription): the deb's and the rpm's.
    description: render.longDescription(id),
    contents,
    deb: {
      // invoke-rc.d --skip-systemd-native in the maintainer scripts.
      preDepends: ['init-system-helpers (>= 1.54~)'],
      // adduser for postinst; what the embedded Node binary links (glibc 2.28, GLIBCXX_3.4.21).
      depends: ['adduser', 'libc6 (>= 2.28)', 'libgcc-s1 (>= 3.0)', 'libstdc++6 (>= 5.2)'],
      section: 'net',
      priority: 'optional',
      scripts: render.debScripts(id),
    },
    rpm: {
      // The executable embeds Node.js and the libraries it bundles.
      license: `${id.license} and others`,
      group: 'System Environment/Daemons',
      requiresPre: ['shadow-utils'], // useradd in %pre
      requires: ['logrotate'],
      scripts: render.rpmScriptlets(id),
    },
    debug,
  };
}

/** A root-owned file: nfpm's `type: ''` unless more says otherwise. */
function file(dst, mode, content, more = {}) {
  return { dst, type: '', mode, owner: 'root', group: 'root', content, ...more };
}

/** A root-owned directory of the package. */
function dir(dst) {
  return { dst, type: 'dir', mode: 0o755, owner: 'root', group: 'root' };
}

/** A systemd unit: in /lib/systemd/system on Debian (and in the tarball), /usr/lib/systemd/system on rpm. */
function unit(name, content) {
  return file(`/lib/systemd/system/${name}`, 0o644, content, {
    overrides: { rpm: { dst: `/usr/lib/systemd/system/${name}` } },
  });
}

/** The directories under each of tops that hold one of files, each top included, sorted. */
function ownDirectories(files, tops) {
  const dirs = files.flatMap((f) => {
    const top = tops.find((d) => f.dst.startsWith(`${d}/`));
    if (!top) return [];
    const parts = f.dst
      .slice(top.length + 1)
      .split('/')
      .slice(0, -1);
    return [top, ...parts.map((_, i) => `${top}/${parts.slice(0, i + 1).join('/')}`)];
  });
  return [...new Set(dirs)].sort();
}

/**
 * The entries of one format's package (packager: 'deb', 'rpm' or 'tarball'), each with that
 * format's overrides applied, sorted by destination. A destination described twice is refused.
 * @param {Entry[]} entries
 * @returns {Entry[]}
 */
function contentsFor(entries, packager) {
  const resolved = entries
    .filter((e) => e.packager === undefined || e.packager === packager)
    .map(({ overrides, packager: _, ...e }) => ({ ...e, ...overrides?.[packager] }))
    .sort((a, b) => a.dst.localeCompare(b.dst));
  resolved.forEach((e, i) => {
    if (i > 0 && resolved[i - 1].dst === e.dst) throw new Error(`${e.dst} is described twice for ${packager}`);
  });
  return resolved;
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

module.exports = { describe, contentsFor, optsVar };
