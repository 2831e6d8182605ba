// How the lifecycle suite starts the daemon: one suite, one launcher per build of it.
import { join } from 'node:path';
import { root } from './proc';

export interface Launcher {
  name: string;
  /** argv prefix; the daemon's own arguments follow. */
  cmd: string[];
}

export const devBuild: Launcher = { name: 'dev build', cmd: [process.execPath, join(root, 'dist', 'main.js')] };

export function launchers(): Launcher[] {
  return [devBuild];
}
