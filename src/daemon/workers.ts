// Files that run in worker threads, in the single executable. pino's transports start a Worker from
// a file beside thread-stream's and pino's modules; the executable has no such files, so
// scripts/build-executable.js bundles each on its own and carries it as an asset, and this module
// writes them out on first use and points pino at them (ARCHITECTURE.md §3).
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { singleExecutable } from './executable';
import { DaemonError, EX } from './exit-codes';
import { checkSharedDirectory, temporaryDirectories } from './native';

/** The asset mapping each worker's name ("pino-worker", "pino/file", "pino-pretty") to its file. */
export const workerListKey = 'forkd-workers';
/** The prefix of a worker file's asset key. */
export const workerPrefix = 'worker:';

/**
 * In the single executable, sets globalThis.__bundlerPathsOverrides, the table through which pino
 * and thread-stream let a bundler name their worker files, to one that writes the carried files
 * out the first time pino asks for one. Elsewhere, and in an executable that carries none, it
 * does nothing. The build's entry calls it before anything else.
 */
export function installBundledWorkers(): void {
  const sea = singleExecutable();
  if (!sea) return;
  let files: Record<string, string>;
  try {
    files = JSON.parse(Buffer.from(sea.getRawAsset(workerListKey)).toString('utf8'));
  } catch {
    return; // no worker files carried
  }
  let dir: string | undefined;
  const known = (key: string | symbol): key is string => typeof key === 'string' && Object.hasOwn(files, key);
  const overrides = new Proxy(Object.create(null) as Record<string, string>, {
    get: (_t, key) => {
      if (!known(key)) return undefined;
      dir ??= writeOut(files, (f) => Buffer.from(sea.getRawAsset(workerPrefix + f)));
      return join(dir, files[key]);
    },
    has: (_t, key) => known(key),
  });
  Object.defineProperty(globalThis, '__bundlerPathsOverrides', {
    value: overrides,
    configurable: true,
    writable: true,
  });
}

/**
 * Writes the worker files into a fresh directory in the first temporary directory that takes them
 * (they are read, never executed, so a noexec mount does), removed when the process exits. The
 * directory and files are readable by all and writable by this user alone: a daemon that drops
 * its privileges after starting its transport still reads them, and nobody else can change them.
 */
function writeOut(files: Record<string, string>, bytes: (file: string) => Buffer): string {
  const tried: string[] = [];
  for (const c of temporaryDirectories()) {
    let dir: string | undefined;
    try {
      checkSharedDirectory(c.dir);
      dir = mkdtempSync(join(c.dir, 'forkd-workers-'));
      chmodSync(dir, 0o755);
      for (const f of Object.values(files)) writeFileSync(join(dir, f), bytes(f), { mode: 0o644, flag: 'wx' });
      rmOnExit(dir);
      return dir;
    } catch (e) {
      if (dir) rmSync(dir, { recursive: true, force: true });
      tried.push(`${c.dir}${c.how ? ` (${c.how})` : ''}: ${(e as Error).message}`);
    }
  }
  throw new DaemonError(
    `cannot write the worker threads' files; tried ${tried.join('; ')}. Set TMPDIR to a directory this user may write`,
    EX.CANTCREAT,
  );
}

/**
 * Removes dir when the process exits, after the other 'exit' listeners: pino flushes its
 * transports in listeners it adds just after asking for the files, and a worker still starting
 * then reads them (removed first, a SIGTERM soon after start ended in exit 70 with the log lost).
 */
function rmOnExit(dir: string): void {
  const remove = () => rmSync(dir, { recursive: true, force: true });
  process.on('exit', remove);
  setImmediate(() => {
    process.removeListener('exit', remove);
    process.on('exit', remove);
  }).unref();
}
