// Whether a process still holds its resources: used by stop and restart, and by the tests.
import { readdirSync, readFileSync } from 'node:fs';

/** The state letter of /proc/PID[/task/TID]/stat (R, S, D, Z, X…), or undefined once gone. */
function state(path: string): string | undefined {
  try {
    const text = readFileSync(path, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/**
 * Alive: not gone, and not a zombie whose threads have all exited. A multithreaded process
 * (Node) that exits shows its leader as a zombie while its other threads still exit, and they
 * hold its files (the pid file's lock, the listening socket) until the last one is gone.
 */
export function alive(pid: number): boolean {
  const s = state(`/proc/${pid}/stat`);
  if (s === undefined || s === 'X') return false;
  if (s !== 'Z') return true;
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return false;
  }
  return tasks.some((tid) => {
    const t = state(`/proc/${pid}/task/${tid}/stat`);
    return t !== undefined && t !== 'Z' && t !== 'X';
  });
}
