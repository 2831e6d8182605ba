// Socket activation as systemd-socket-activate does it: it binds, then execs the daemon on the
// first connection with the socket as fd 3. Shared by test/systemd.ts and test/cross.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { greeting, name } from './identity';
import { alive, freePort, get, listenerPids, listeningFds, run, spawnClean, tempDir, waitFor } from './proc';

/**
 * Starts systemd-socket-activate on port with argv, and waits until it listens. said() is what
 * it and the daemon it execs wrote to stderr; exited resolves with its exit code.
 */
export async function activate(t: Test, port: number, argv: string[]) {
  const activator = spawnClean(['systemd-socket-activate', '-l', `127.0.0.1:${port}`, ...argv], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  activator.stderr!.on('data', (b: Buffer) => (err += b));
  const exited = new Promise<number | null>((r) => activator.on('close', (c) => r(c)));
  t.teardown(() => {
    if (alive(activator.pid!)) activator.kill('SIGKILL');
  });
  await waitFor('the activator', () => err.includes('Listening on'));
  return { activator, said: () => err, exited };
}

/**
 * Fork mode (no --foreground): the parent exits 0 once its re-executed child, the daemon, serves
 * on the socket it was handed (LISTEN_PID rewritten, fd 3 kept open across the execve). Then the
 * daemon is stopped with its own stop command. cmd is the launcher's argv prefix.
 */
export async function activatedInForkMode(t: Test, cmd: string[]): Promise<void> {
  const dir = tempDir(t);
  const pidFile = join(dir, 'pid');
  const port = await freePort();
  const { activator, said, exited } = await activate(t, port, [
    ...cmd,
    '--pidfile',
    pidFile,
    '--log',
    join(dir, 'log'),
    '--listen',
    '127.0.0.1:1',
  ]);
  const res = await get(port);
  t.equal(res.status, 200, 'the first connection is served');
  t.equal(res.body, `${greeting}\n`);
  t.equal(await exited, 0, `the parent exits 0 (${said()})`);
  t.match(said(), `${name}: listening on http://127.0.0.1:${port} (socket activation: fd 3, `);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  t.not(pid, activator.pid, 'the daemon is the forked child');
  t.same(listenerPids(port), [pid], 'the daemon holds the passed socket');
  t.same(listeningFds(pid), [3], 'its only listening socket is fd 3, handed on over the re-exec');
  t.equal((await get(port)).status, 200, 'and serves on it');
  const stop = await run([...cmd, 'stop', '--pidfile', pidFile], { timeoutMs: 60_000 });
  t.equal(stop.code, 0, stop.err);
  await waitFor('the daemon gone', () => !alive(pid), 30_000);
}
