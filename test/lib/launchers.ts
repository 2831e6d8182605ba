// How the lifecycle suite starts the daemon: one suite, one launcher per build of it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './proc';

export interface Launcher {
  name: string;
  /** argv prefix; the daemon's own arguments follow. */
  cmd: string[];
}

export const devBuild: Launcher = { name: 'dev build', cmd: [process.execPath, join(root, 'dist', 'main.js')] };

const name = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { forkd: { name: string } }).forkd.name;

/** out/<name>, built by `npm run build` (scripts/build-executable.js). */
export const executablePath = join(root, 'out', name);

export const singleExecutable: Launcher = { name: 'single executable', cmd: [executablePath] };

// scripts/arch.js: every target architecture and where its executable is built.
const arch = require('../../scripts/arch') as {
  hostArch: string;
  arches: Record<string, { gnu: string; qemu: string }>;
  projectArches(): string[];
  executablePath(arch: string, name: string): string;
};

/**
 * The executables of the project's other architectures (package.json forkd.arches), run by
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

/** Both builds for the host. A missing executable is a failure, not a skip: `npm run build` makes it. */
export function launchers(): Launcher[] {
  if (!existsSync(executablePath)) throw new Error(`${executablePath} is missing: run "npm run build"`);
  return [devBuild, singleExecutable];
}

/**
 * The host's builds and the other architectures' executables: the lifecycle suite runs on all of
 * them (the other suites on the host's only, as emulation costs 10 to 20 times the time).
 */
export function everyArchLaunchers(): Launcher[] {
  const foreign = foreignExecutables();
  for (const l of foreign)
    if (!existsSync(l.path)) throw new Error(`${l.path} is missing: run "npm run build" (package.json forkd.arches)`);
  return [...launchers(), ...foreign];
}
