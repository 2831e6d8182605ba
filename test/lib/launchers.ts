// How the runtime's tests start the daemon: one suite, one launcher per build of it. The daemon
// is the runtime with the tests' own server (test/fixtures/daemon/), not the project's
// src/server/, so these tests pass whatever server the project has (ARCHITECTURE.md §6). The
// sample's own tests (test/server/) start dist/main.js and out/NAME instead: productLaunchers().
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { name } from './identity';
import { root } from './proc';

export interface Launcher {
  name: string;
  /** argv prefix; the daemon's own arguments follow. */
  cmd: string[];
}

/** The runtime's test daemon (test/fixtures/daemon/main.js), under the pinned Node. */
export const fixture = join(root, 'test', 'fixtures', 'daemon', 'main.js');
export const devBuild: Launcher = { name: 'dev build', cmd: [process.execPath, fixture] };

/** The same built into a single executable, as out/NAME is built: fixtureExecutable(). */
export const singleExecutable: Launcher = {
  name: 'single executable',
  get cmd() {
    return [fixtureExecutable()];
  },
};

/** The project's own daemon, with its server: what the packages ship (test/server/ runs it). */
export const executablePath = join(root, 'out', name);
export const productDevBuild: Launcher = { name: 'dev build', cmd: [process.execPath, join(root, 'dist', 'main.js')] };
export const productExecutable: Launcher = { name: 'single executable', cmd: [executablePath] };

// scripts/arch.js: every target architecture and where its executable is built.
const arch = require('../../scripts/arch') as {
  hostArch: string;
  arches: Record<string, { gnu: string; qemu: string }>;
  projectArches(): string[];
  executablePath(arch: string, name: string): string;
  addonPath(arch: string): string;
};

/**
 * The project's executables for its other architectures (package.json forkd.arches), run by
 * qemu-user through binfmt_misc, so that the daemon's re-exec of /proc/self/exe is emulated too.
 * Their shared libraries come from the cross toolchain's sysroot (libc6-arm64-cross and
 * libstdc++6-arm64-cross, which g++-aarch64-linux-gnu brings): QEMU_LD_PREFIX, which the daemon
 * keeps in its environment across the re-exec.
 */
export function foreignExecutables(): (Launcher & { arch: string; path: string })[] {
  return arch
    .projectArches()
    .filter((a) => a !== arch.hostArch)
    .map((a) => {
      const path = arch.executablePath(a, name);
      return {
        arch: a,
        path,
        name: `single executable (${a}, qemu)`,
        cmd: ['/usr/bin/env', `QEMU_LD_PREFIX=/usr/${arch.arches[a].gnu}`, path],
      };
    });
}

/** Both builds of the runtime's test daemon. */
export function launchers(): Launcher[] {
  fixtureExecutable();
  return [devBuild, singleExecutable];
}

/**
 * The host's builds of the runtime's test daemon, and the same built for the project's other
 * architectures (package.json forkd.arches), run by qemu-user: the lifecycle suite runs on all of
 * them (the other suites on the host's only, as emulation costs 10 to 20 times the time).
 */
export function everyArchLaunchers(): Launcher[] {
  const foreign = arch
    .projectArches()
    .filter((a) => a !== arch.hostArch)
    .map((a) => ({
      name: `single executable (${a}, qemu)`,
      cmd: ['/usr/bin/env', `QEMU_LD_PREFIX=/usr/${arch.arches[a].gnu}`, fixtureExecutable(a)],
    }));
  return [...launchers(), ...foreign];
}

/** Both builds of the project's daemon. A missing out/NAME is a failure: `npm run build` makes it. */
export function productLaunchers(): Launcher[] {
  if (!existsSync(executablePath)) throw new Error(`${executablePath} is missing: run "npm run build"`);
  return [productDevBuild, productExecutable];
}

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
  );
}

const built = new Map<string, string>();

/**
 * build/test-daemon/KEY/NAME: the fixture daemon as a single executable for target (the host's
 * architecture by default), built once per set of inputs (the runtime in dist/, the target's
 * addon, the fixture, the build script) by
 * scripts/build-executable.js --entry, in about 5 s. Test files running at the same time wait
 * for one another's build (a lock directory), and a half-built one is never used (the script
 * renames the finished file into place).
 */
export function fixtureExecutable(target = arch.hostArch): string {
  const done = built.get(target);
  if (done) return done;
  const inputs = [
    ...files(join(root, 'dist')).filter((f) => !/\/dist\/(server|create)\//.test(f)),
    ...files(join(root, 'test', 'fixtures', 'daemon')),
    arch.addonPath(target),
    join(root, 'scripts', 'build-executable.js'),
    join(root, 'scripts', 'arch.js'),
    join(root, 'package.json'),
  ]
    // The lock file where there is one (a project made with --no-install has none yet).
    .concat(existsSync(join(root, 'package-lock.json')) ? [join(root, 'package-lock.json')] : [])
    .sort();
  const h = createHash('sha256').update(target);
  for (const f of inputs) {
    if (!existsSync(f)) throw new Error(`${f} is missing: run "npm run build"`);
    h.update(f).update(readFileSync(f));
  }
  const base = join(root, 'build', 'test-daemon');
  const dir = join(base, h.digest('hex').slice(0, 16));
  const exe = join(dir, name);
  mkdirSync(dir, { recursive: true });
  const lock = join(base, 'lock');
  for (const deadline = Date.now() + 300_000; !existsSync(exe); ) {
    try {
      mkdirSync(lock);
    } catch {
      // Another test file builds it; a lock older than 5 minutes was left by a killed build.
      const st = statSync(lock, { throwIfNoEntry: false });
      if (st && Date.now() - st.mtimeMs > 300_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`${lock} held for 5 minutes; remove it if no test runs`);
      execFileSync('sleep', ['0.2']);
      continue;
    }
    try {
      if (!existsSync(exe))
        execFileSync(
          process.execPath,
          [join(root, 'scripts', 'build-executable.js'), exe, '--entry', fixture, '--arch', target],
          {
            stdio: ['ignore', 'ignore', 'inherit'],
          },
        );
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
  // Keep the four most recent builds.
  const old = readdirSync(base)
    .filter((d) => d !== 'lock')
    .map((d) => ({ d, t: statSync(join(base, d)).mtimeMs }))
    .sort((a, b) => b.t - a.t)
    .slice(4);
  for (const { d } of old) rmSync(join(base, d), { recursive: true, force: true });
  built.set(target, exe);
  return exe;
}
