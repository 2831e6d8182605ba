// A real terminal for the tests: a private tmux server on a socket of its own, killed when the
// test ends. Where a test finds its leftovers by a tag on their command lines, note that the
// server keeps the argv of the command that started it (the first new-session).
import { execFileSync } from 'node:child_process';

export interface Tmux {
  /** Runs a tmux command against this server; its stdout. */
  (...args: string[]): string;
  /** What a pane shows now (the current one, or target's). */
  screen(target?: string): string;
}

export function tmuxServer(t: { teardown(fn: () => void): void }, prefix: string): Tmux {
  const socket = `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const tmux = ((...args: string[]) =>
    execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as Tmux;
  tmux.screen = (target?: string) => tmux('capture-pane', '-p', ...(target ? ['-t', target] : []));
  t.teardown(() => {
    try {
      tmux('kill-server');
    } catch {
      // already gone
    }
  });
  return tmux;
}
