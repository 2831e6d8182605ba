// How the lifecycle suite starts the daemon: one suite, one launcher per build of it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { name } from './identity';
import { root } from './proc';

export interface Launcher {
  name: string;
  /** argv prefix; the daemon's own arguments follow. */
  cmd: string[];
}

export const devBuild: Launcher = { name: 'dev build', cmd: [process.execPath, join(root, 'dist', 'main.js')] };

/** out/<name>, built by `npm run build` (scripts/build-executable.js). */
export const executablePath = join(root, 'out', name);

export const singleExecutable: Launcher = { name: 'single executable', cmd: [executablePath] };

/** Both builds. A missing executable is a failure, not a skip: `npm run build` makes it. */
export function launchers(): Launcher[] {
  if (!existsSync(executablePath)) throw new Error(`${executablePath} is missing: run "npm run build"`);
  return [devBuild, singleExecutable];
}
