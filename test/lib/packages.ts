// The packages of this tree (`scripts/package.js`: .deb, .rpm, tarball, the debug packages, for
// each architecture of package.json forkd.arches), built once per set of
// inputs and shared by the test files that need them: packaging.ts lints them, installed.ts
// installs them. Building them (xz over a 120 MB executable) is the slowest step of the suite.
//
// As root they are kept in FORKD_TEST_CACHE (default /var/cache/forkd-test, outside the clone)
// under packages/<key>, the key a hash of everything they are made from; a builder holds a lock
// and renames the finished directory into place, so a half-built one is never used. The next
// version's .deb and .rpm, which the upgrade tests move to, are a set of their own
// (versionPackages). The eight most recent sets are kept. Otherwise each caller builds its own
// in a temporary directory.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from './container';
import { root, run, tempDir } from './proc';

export const epoch = '1700000000';

/** One architecture's packages. */
export interface ArchPackages {
  deb: string;
  dbgsym: string;
  rpm: string;
  debuginfo: string;
  tarball: string;
}

/** The host's packages, and every architecture's in byArch. */
export interface Built extends ArchPackages {
  dir: string;
  byArch: Record<string, ArchPackages>;
}

const arch = require('../../scripts/arch') as {
  hostArch: string;
  arches: Record<string, { deb: string; rpm: string }>;
  projectArches(): string[];
  executablePath(arch: string, name: string): string;
  addonPath(arch: string): string;
};

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
  );
}

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string;
  forkd: { name: string };
};

/**
 * A hash of the inputs: each architecture's executable, its symbols and its addon, the CLI tables
 * (man page), package.json, scripts/.
 */
function inputsKey(): string {
  const h = createHash('sha256').update(epoch);
  for (const f of [
    ...arch
      .projectArches()
      .flatMap((a) => [
        arch.executablePath(a, pkg.forkd.name),
        `${arch.executablePath(a, pkg.forkd.name)}.debug`,
        arch.addonPath(a),
      ]),
    join(root, 'dist', 'cli.js'),
    join(root, 'package.json'),
    ...files(join(root, 'scripts')).sort(),
  ])
    h.update(f).update(readFileSync(f));
  return h.digest('hex').slice(0, 16);
}

/** Runs scripts/SCRIPT --out dir ...args with SOURCE_DATE_EPOCH; returns the paths it printed. */
export async function buildWith(script: string, dir: string, args: string[] = []): Promise<string[]> {
  const r = await run([process.execPath, join(root, 'scripts', script), '--out', dir, ...args], {
    env: { SOURCE_DATE_EPOCH: epoch },
    timeoutMs: 900_000,
  });
  if (r.code !== 0) throw new Error(`${script} ${args.join(' ')}: ${r.err}`);
  return r.stdout.trim().split('\n');
}

/**
 * The directory of a package set: scripts/SCRIPT --out DIR ARGS for each step. As root it is
 * shared in the cache under key, built once under a lock and renamed into place when whole;
 * otherwise it is built in a temporary directory.
 */
async function packageSet(
  t: { teardown(fn: () => void): void },
  key: string,
  steps: [string, string[]][],
): Promise<string> {
  if (process.getuid!() !== 0) {
    const dir = tempDir(t);
    for (const [script, args] of steps) await buildWith(script, dir, args);
    return dir;
  }
  const base = join(cacheDir, 'packages');
  mkdirSync(base, { recursive: true, mode: 0o755 });
  const dir = join(base, key);
  if (existsSync(dir)) return dir;
  const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  const build = steps
    .map(([script, args]) =>
      [
        `SOURCE_DATE_EPOCH=${epoch} "$2"`,
        quote(join(root, 'scripts', script)),
        '--out "$1.part"',
        ...args.map(quote),
      ].join(' '),
    )
    .map((line) => `${line} >/dev/null`)
    .join('\n');
  const r = await run(
    [
      'flock',
      `${dir}.lock`,
      'sh',
      '-ec',
      `[ -d "$1" ] && exit 0; rm -rf "$1.part"; mkdir "$1.part"\n${build}\nmv "$1.part" "$1"`,
      'sh',
      dir,
      process.execPath,
    ],
    { timeoutMs: 900_000 },
  );
  if (r.code !== 0) throw new Error(`scripts/${steps.map(([s]) => s).join(', ')}: ${r.err}`);
  prune(base);
  return dir;
}

export async function packages(t: { teardown(fn: () => void): void }): Promise<Built> {
  const dir = await packageSet(t, inputsKey(), [['package.js', []]]);
  const byArch: Record<string, ArchPackages> = {};
  for (const a of arch.projectArches()) byArch[a] = named(dir, a);
  return { dir, ...byArch[arch.hostArch], byArch };
}

/**
 * The host architecture's .deb and .rpm at another version (the next one, that the upgrade tests
 * move to), built once per set of inputs and shared like packages().
 */
export async function versionPackages(
  t: { teardown(fn: () => void): void },
  version: string,
): Promise<ArchPackages & { dir: string }> {
  const args = ['--version', version, '--arch', arch.hostArch];
  const dir = await packageSet(t, `${inputsKey()}-${version}`, [
    ['package-deb.js', args],
    ['package-rpm.js', args],
  ]);
  return { dir, ...named(dir, arch.hostArch, version) };
}

/** The file names scripts/package.js gives a's packages of this version, in dir. */
export function named(dir: string, a: string, version = pkg.version): ArchPackages {
  const { name } = pkg.forkd;
  const { deb, rpm } = arch.arches[a];
  return {
    deb: join(dir, `${name}_${version}_${deb}.deb`),
    dbgsym: join(dir, `${name}-dbgsym_${version}_${deb}.deb`),
    rpm: join(dir, `${name}-${version}-1.${rpm}.rpm`),
    debuginfo: join(dir, `${name}-debuginfo-${version}-1.${rpm}.rpm`),
    tarball: join(dir, `${name}-${version}-linux-${a}.tar.gz`),
  };
}

/** Keeps the eight most recent package sets (other trees, earlier builds of this one, other versions). */
function prune(base: string): void {
  const sets = readdirSync(base)
    .filter((e) => /^[0-9a-f]{16}(-[0-9.]+)?$/.test(e))
    .map((e) => ({ e, mtime: statSync(join(base, e)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const { e } of sets.slice(8)) {
    rmSync(join(base, e), { recursive: true, force: true });
    rmSync(join(base, `${e}.lock`), { force: true });
  }
}
