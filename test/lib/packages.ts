// The packages of this tree (`scripts/package.js`: .deb, .rpm, tarball), built once per set of
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
import { name } from './identity';
import { root, run, tempDir } from './proc';

export const epoch = '1700000000';

export interface Built {
  dir: string;
  deb: string;
  rpm: string;
  tarball: string;
}

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
  );
}

/** A hash of the inputs: the executable, the addon, the CLI tables (man page), package.json, scripts/. */
function inputsKey(): string {
  const h = createHash('sha256').update(epoch);
  for (const f of [
    join(root, 'out', name),
    join(root, 'build', 'Release', 'forkd.node'),
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
  const made = readdirSync(dir);
  const pick = (re: RegExp) => join(dir, made.find((f) => re.test(f)) ?? '');
  return { dir, deb: pick(/\.deb$/), rpm: pick(/\.rpm$/), tarball: pick(/\.tar\.gz$/) };
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
