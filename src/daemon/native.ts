// The one loader of the native addon (native/, built by cmake-js).
import { closeSync, constants, mkdtempSync, openSync, rmdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getSystemErrorName } from 'node:util';
import { DaemonError, EX } from './exit-codes';
import { singleExecutable } from './executable';

export interface ForkParentResult {
  pid: number;
  exitCode: number;
  raiseSignal: number;
}

export interface NativeAddon {
  /** The environment variable that marks the re-executed daemon image. */
  readyMarker: string;
  forkParent(name: string, readyTimeoutMs: number, stopGraceMs: number): ForkParentResult;
  claimReadyChannel(fd: number): void;
  signalReady(fd: number): void;
  pidfileAcquire(path: string, pid: number): number;
  /** locked: a process holds the lock; pid: the number in the file (0 if none); holder: the lock's owner (0 if unknown). */
  pidfileProbe(path: string): { locked: boolean; pid: number; holder: number };
  /** Removes the pid file if it is unlocked and names pid (a child that died); true if removed. */
  pidfileRemoveStale(path: string, pid: number): boolean;
  pidfileRelease(fd: number, path: string): void;
  /** Appends to path under safe_open's rule; uid -1 keeps the owner of a file it creates. */
  openLog(path: string, uid: number, gid: number): number;
  dup2(from: number, to: number): void;
  notify(socketPath: string, state: string): void;
  monotonicUsec(): bigint;
  lookupUser(name: string): { uid: number; gid: number };
  lookupGroup(name: string): number;
  dropPrivileges(user: string, uid: number, gid: number): void;
  setCloexec(fd: number): void;
}

const builtAt = '../../build/Release/forkd.node';

/** The addon's name among the single executable's assets (scripts/build-executable.js). */
export const addonAsset = 'forkd.node';

function load(): NativeAddon {
  const sea = singleExecutable();
  if (sea) return loadFromExecutable(Buffer.from(sea.getRawAsset(addonAsset)));
  try {
    // A literal path, so that bundlers can see the addon (the executable carries it as an asset).
    return require('../../build/Release/forkd.node') as NativeAddon;
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new DaemonError(`cannot load the native addon (tried ${builtAt}): ${why}; run "npm run build"`, EX.SOFTWARE);
  }
}

/** Where the executable may put the addon for dlopen: private to this user, never shared. */
function addonDir(): { dir: string; variable: string } {
  const runtime = process.env.RUNTIME_DIRECTORY?.split(':')[0];
  if (runtime) return { dir: runtime, variable: 'RUNTIME_DIRECTORY' };
  return { dir: tmpdir(), variable: 'TMPDIR' };
}

/**
 * dlopen needs a file. In the single executable the addon is an asset in memory: write it to an
 * unnamed O_TMPFILE (no name anyone could open or replace, gone when closed) and load it through
 * /proc/self/fd; where the file system has no O_TMPFILE, use a fresh 0700 directory and remove
 * the file at once. Nothing is left behind, and nothing is read from a shared cache.
 */
function loadFromExecutable(bytes: Buffer): NativeAddon {
  const { dir, variable } = addonDir();
  const module = { exports: {} as NativeAddon };
  const dlopenFrom = (path: string) => {
    try {
      process.dlopen(module, path);
    } catch (e) {
      const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
      if (/too many open files/i.test(why)) outOfFds({ code: 'EMFILE' });
      const noexec = /failed to map segment|operation not permitted/i.test(why);
      throw new DaemonError(
        noexec
          ? `cannot load the native addon from ${dir}: it is mounted noexec; set ${variable} to a directory where code may run`
          : `cannot load the native addon from ${dir}: ${why}; set ${variable} to another directory`,
        EX.OSERR,
      );
    }
  };
  const O_TMPFILE = 0o20000000 | constants.O_DIRECTORY;
  let fd: number | undefined;
  try {
    fd = openSync(dir, O_TMPFILE | constants.O_RDWR, 0o600);
  } catch (e) {
    outOfFds(e);
    fd = undefined; // no O_TMPFILE here (or no such directory: the fallback says which)
  }
  if (fd !== undefined) {
    try {
      writeAllSync(fd, bytes);
      dlopenFrom(`/proc/self/fd/${fd}`);
    } finally {
      closeSync(fd);
    }
    return module.exports;
  }
  let privateDir: string;
  try {
    privateDir = mkdtempSync(join(dir, 'forkd-addon-'));
  } catch (e) {
    outOfFds(e);
    throw new DaemonError(
      `cannot load the native addon: cannot create a private directory in ${dir} (${(e as NodeJS.ErrnoException).code}); set ${variable} to a writable directory`,
      EX.OSERR,
    );
  }
  const file = join(privateDir, addonAsset);
  try {
    writeFileSync(file, bytes, { mode: 0o600, flag: 'wx' });
    dlopenFrom(file);
  } finally {
    rmSync(file, { force: true });
    rmdirSync(privateDir);
  }
  return module.exports;
}

/** Out of file descriptors is not the directory's fault: name the limit, not TMPDIR. */
function outOfFds(e: unknown): void {
  const code = (e as { code?: string }).code;
  if (code === 'EMFILE' || code === 'ENFILE')
    throw new DaemonError(
      `cannot load the native addon: too many open files (${code}); raise the open-file limit (ulimit -n 1024)`,
      EX.OSERR,
    );
}

function writeAllSync(fd: number, data: Buffer): void {
  for (let off = 0; off < data.length; ) off += writeSync(fd, data, off);
}

/** Gives the addon's errors Node's `code` ("ENOENT"), so callers handle them like fs errors. */
function withCodes(addon: NativeAddon): NativeAddon {
  const wrapped: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(addon)) {
    if (typeof value !== 'function') {
      wrapped[key] = value;
      continue;
    }
    wrapped[key] = (...args: unknown[]) => {
      try {
        return (value as (...a: unknown[]) => unknown)(...args);
      } catch (e) {
        const err = e as Error & { errno?: number; code?: string };
        if (typeof err.errno === 'number') err.code = getSystemErrorName(-err.errno);
        throw err;
      }
    };
  }
  return wrapped as unknown as NativeAddon;
}

let loaded: NativeAddon | undefined;

/** The addon, loaded on first use (--help and --version never need it). */
export function native(): NativeAddon {
  loaded ??= withCodes(load());
  return loaded;
}
