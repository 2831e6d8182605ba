'use strict';
// What the three backends (package-deb.js, package-rpm.js, package-tarball.js) share: the
// described contents written out as a tree, a private build directory renamed into out/ when
// done, running a packaging tool, and their command line. The description itself, which writes
// nothing and runs nothing, is describe.js.
const {
  chmodSync,
  lutimesSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} = require('node:fs');
const { basename, dirname, join, resolve } = require('node:path');
const arch = require('../arch');

const root = resolve(__dirname, '..', '..');

/**
 * Writes entries (one format's contents: describe.js's contentsFor) under dir: each file with its
 * content and mode, each symlink, each directory with its mode; parent directories are 0755. Then
 * sets the mtime of everything under dir, dir included, to epoch, for reproducible archives.
 * Owners are not written: dpkg-deb --root-owner-group and tar --owner=0 make every file root's,
 * so an entry owned by another user is refused unless the format records owners itself
 * (`owners`: rpm's %attr).
 */
function stage(entries, dir, epoch, { owners = false } = {}) {
  for (const e of entries) {
    if (!owners && (e.owner !== 'root' || e.group !== 'root'))
      throw new Error(
        `${e.dst} is owned by ${e.owner}:${e.group} in the description, which this format cannot record; give it packager: 'rpm', or create it in a maintainer script`,
      );
    const target = join(dir, e.dst);
    mkdirSync(e.type === 'dir' ? target : dirname(target), { recursive: true, mode: 0o755 });
    if (e.type === 'symlink') symlinkSync(e.target, target);
    else if (e.type !== 'dir') writeFileSync(target, e.content);
    if (e.type !== 'symlink') chmodSync(target, e.mode);
  }
  const touch = (p) => {
    for (const e of readdirSync(p, { withFileTypes: true })) if (e.isDirectory()) touch(join(p, e.name));
    utimesSync(p, epoch, epoch);
    for (const e of readdirSync(p, { withFileTypes: true }))
      if (!e.isDirectory()) lutimesSync(join(p, e.name), epoch, epoch);
  };
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  touch(dir);
}

/**
 * Builds one artefact in a fresh directory under outDir; build(dir) returns the path of what it
 * made there, which is then renamed into outDir. So outDir never holds a half-written package,
 * and the directory is removed whatever happens.
 */
function inStage(outDir, kind, build) {
  mkdirSync(outDir, { recursive: true });
  const dir = mkdtempSync(join(outDir, `.${kind}-`));
  try {
    const made = build(dir);
    const target = join(outDir, basename(made));
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

/** A backend's main: main(args) returns what it built, one path a line; a failure exits 1. */
function run(main) {
  try {
    process.stdout.write(`${main(cliArgs(process.argv.slice(2)))}\n`);
  } catch (e) {
    process.stderr.write(`${basename(process.argv[1])}: ${e.message}\n`);
    process.exit(1);
  }
}

module.exports = { stage, inStage, tool, run };
