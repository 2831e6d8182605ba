// The packages of this tree (`scripts/package.js`: .deb, .rpm, tarball, the debug packages, for
// each architecture of package.json forkd.arches), built once per set of
// inputs and shared by the test files that need them: packaging.ts lints them, installed.ts
// installs them. Building them (xz over a 120 MB executable) is the slowest step of the suite.
//
// As root they are kept in FORKD_TEST_CACHE (default /var/cache/forkd-test, outside the clone)
// under packages/<key>, the key a hash of everything they are made from; a builder holds a lock
// and renames the finished directory into place, so a half-built one is never used. The four
// most recent keys are kept. Otherwise each caller builds its own in a temporary directory.
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

export async function packages(t: { teardown(fn: () => void): void }): Promise<Built> {
  const shared = process.getuid!() === 0;
  let dir: string;
  if (shared) {
    const base = join(cacheDir, 'packages');
    mkdirSync(base, { recursive: true, mode: 0o755 });
    dir = join(base, inputsKey());
    if (!existsSync(dir)) {
      const r = await run(
        [
          'flock',
          `${dir}.lock`,
          'sh',
          '-ec',
          `[ -d "$1" ] && exit 0; rm -rf "$1.part"; mkdir "$1.part"
        SOURCE_DATE_EPOCH=${epoch} "$2" "$3" --out "$1.part" >/dev/null; mv "$1.part" "$1"`,
          'sh',
          dir,
          process.execPath,
          join(root, 'scripts', 'package.js'),
        ],
        { timeoutMs: 900_000 },
      );
      if (r.code !== 0) throw new Error(`scripts/package.js: ${r.err}`);
      prune(base);
    }
  } else {
    dir = tempDir(t);
    await buildWith('package.js', dir);
  }
  const byArch: Record<string, ArchPackages> = {};
  for (const a of arch.projectArches()) byArch[a] = named(dir, a);
  return { dir, ...byArch[arch.hostArch], byArch };
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

/** Keeps the four most recent package sets (other trees, earlier builds of this one). */
function prune(base: string): void {
  const sets = readdirSync(base)
    .filter((e) => /^[0-9a-f]{16}$/.test(e))
    .map((e) => ({ e, mtime: statSync(join(base, e)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const { e } of sets.slice(4)) {
    rmSync(join(base, e), { recursive: true, force: true });
    rmSync(join(base, `${e}.lock`), { force: true });
  }
}
