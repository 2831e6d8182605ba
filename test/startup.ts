// The start-up protocol (native/fork_parent.c) through a fixture daemon that misbehaves on purpose.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { sha256 as sha } from './lib/hash';
import { alive, processesMentioning, type Ran, root, run, spawnClean, tempDir, waitFor } from './lib/proc';
import { tmuxServer } from './lib/tmux';

const fixture = join(root, 'test', 'fixtures', 'startup.js');
// Start-up is the subject here: after ready, output goes nowhere (test/syslog.ts covers the default,
// which on a machine with no /dev/log adds a warning to what the daemon said).
const start = (dir: string, mode: string, arg = '-', env: NodeJS.ProcessEnv = {}, timeoutMs?: number) =>
  run([process.execPath, fixture, mode, arg, dir], { env: { FIXTURE_LOG: 'none', ...env }, timeoutMs });

t.test('a daemon that becomes ready: exit 0, and the marker is not passed on', async (t) => {
  const dir = tempDir(t);
  const r = await start(dir, 'ready');
  t.equal(r.code, 0, r.err);
  t.equal(r.err, 'fixture: marker inherited by children: false\n', 'exactly what the daemon said, nothing more');
});

t.test('init that exits with 3: the parent says so and exits 3', async (t) => {
  const dir = tempDir(t);
  const r = await start(dir, 'exit', '3');
  t.equal(r.code, 3);
  t.equal(r.err, 'fixture: giving up with code 3\nfixture: exited with code 3 during start-up\n');
  t.same(processesMentioning(dir), []);
});

/** Runs n starts, `width` at a time. */
async function many(n: number, width: number, once: () => Promise<Ran>): Promise<Ran[]> {
  const results: Ran[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) {
        next++;
        results.push(await once());
      }
    }),
  );
  return results;
}

for (const [mode, arg, signal] of [
  ['signal', 'SIGSEGV', 'SIGSEGV'],
  ['signal', 'SIGKILL', 'SIGKILL'],
  ['close-then-die', '-', 'SIGKILL'],
] as const) {
  t.test(
    `init killed by ${signal}${mode === 'close-then-die' ? ' just after closing stderr' : ''}: 50 of 50 reported, never ready`,
    async (t) => {
      const dir = tempDir(t);
      const runs = await many(50, 4, () => start(dir, mode, arg));
      const falseReady = runs.filter((r) => r.code === 0).length;
      const right = runs.filter(
        (r) => r.code === 70 && r.err.includes(`fixture: killed by ${signal} during start-up`),
      ).length;
      t.equal(falseReady, 0, 'no crash reported as ready');
      t.equal(right, 50, `every run says "killed by ${signal}" and exits 70`);
      if (right !== 50) t.comment(runs.find((r) => r.code !== 70)?.err ?? '');
      t.same(processesMentioning(dir), []);
    },
  );
}

for (const signal of ['SIGKILL', 'SIGSEGV', 'SIGABRT'] as const) {
  t.test(`init killed by ${signal} with a pid file and a helper: the parent removes both`, async (t) => {
    const dir = tempDir(t);
    const pidFile = join(dir, 'pid');
    const r = await start(dir, 'helper-then-die', signal, { FIXTURE_PIDFILE: pidFile });
    t.equal(r.code, 70, r.err);
    const pid = Number(/fixture: helper (\d+) started/.exec(r.err)?.[1]);
    t.match(r.err, `fixture: killed by ${signal}`);
    t.match(r.err, `fixture: removed ${pidFile}, left by the daemon (pid `);
    t.notOk(existsSync(pidFile), 'no pid file');
    t.ok(pid > 0, 'the helper had started');
    await waitFor('the helper gone', () => !alive(pid), 5000).catch(() => undefined);
    t.notOk(alive(pid), 'the helper in its process group is gone');
    t.same(processesMentioning(dir), [], 'no process left');
  });
}

t.test('a pid file that names another process is left alone by a failed start', async (t) => {
  const dir = tempDir(t);
  const pidFile = join(dir, 'pid');
  writeFileSync(pidFile, '999999\n');
  const r = await start(dir, 'exit', '3', { FIXTURE_PIDFILE: join(dir, 'other') });
  t.equal(r.code, 3);
  t.equal(readFileSync(pidFile, 'utf8'), '999999\n', 'untouched');
});

t.test('a daemon that relays a burst, says ready and exits at once: 50 of 50 reported ready', async (t) => {
  const dir = tempDir(t);
  const runs = await many(50, 4, () => start(dir, 'ready-then-exit'));
  const misreported = runs.filter((r) => r.code !== 0);
  t.equal(misreported.length, 0, `every run exits 0 (${misreported[0]?.err ?? ''})`);
});

t.test('10 MB of binary start-up output reaches the terminal byte-exact', async (t) => {
  const dir = tempDir(t);
  const data = randomBytes(10 * 1024 * 1024);
  for (let i = 0; i < data.length; i++) if (data[i] === 0x0a) data[i] = 0x0b; // no newlines at all
  writeFileSync(join(dir, 'data'), data);
  const r = await start(dir, 'relay', join(dir, 'data'));
  t.equal(r.code, 0);
  t.equal(r.stderr.length, data.length, 'length');
  t.equal(sha(r.stderr), sha(data), 'sha256');
});

t.test('--ready-timeout: the parent says so, stops the child, exits 69', async (t) => {
  const dir = tempDir(t);
  const began = Date.now();
  const r = await start(dir, 'slow', '-', { FIXTURE_READY_TIMEOUT_MS: '1000' });
  t.equal(r.code, 69);
  t.match(r.err, 'fixture: not ready after 1 s; stopping it (a slow start needs a longer --ready-timeout)');
  t.match(r.err, 'fixture: start-up cancelled (SIGTERM)', "the child's last words are relayed");
  t.ok(Date.now() - began < 5000, 'returns promptly');
  t.same(processesMentioning(dir), [], 'no process left');
});

t.test('--ready-timeout with a child that ignores SIGTERM: SIGKILL after the grace period, said', async (t) => {
  const dir = tempDir(t);
  const pidFile = join(dir, 'pid');
  const r = await start(dir, 'slow', 'ignore-term', { FIXTURE_READY_TIMEOUT_MS: '500', FIXTURE_PIDFILE: pidFile });
  t.equal(r.code, 69);
  t.match(r.err, 'SIGTERM ignored');
  t.match(r.err, 'fixture: still running 5 s after SIGTERM: killing it (SIGKILL)\n');
  t.match(r.err, `fixture: removed ${pidFile}, left by the daemon`);
  t.notOk(existsSync(pidFile), 'no pid file');
  t.same(processesMentioning(dir), [], 'no process left');
});

for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
  t.test(
    `${signal} to the waiting parent cancels the start: it relays, dies of ${signal}, leaves nothing`,
    async (t) => {
      const dir = tempDir(t);
      const child = spawnClean([process.execPath, fixture, 'slow', '-', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
      const closed = new Promise<[number | null, string | null]>((r) => child.on('close', (c, s) => r([c, s])));
      await waitFor('the slow init', () => err.includes('initialising slowly'));
      const daemonPid = Number(/pid (\d+)/.exec(err)![1]);
      child.kill(signal);
      const [code, died] = await closed;
      t.equal(code, null);
      t.equal(died, signal);
      t.match(
        err,
        `fixture: start-up cancelled (SIGTERM)\nfixture: stopped\nfixture: start-up cancelled by ${signal}\n`,
      );
      t.notOk(alive(daemonPid));
      t.same(processesMentioning(dir), []);
    },
  );
}

t.test('Ctrl-C at a real terminal (tmux) cancels the start and leaves no process', async (t) => {
  const dir = tempDir(t);
  const tmux = tmuxServer(t, 'forkd-test');
  // Only the fixture's command line may name dir: the script, its cwd and the exit file live in
  // another directory (the tmux server keeps its own argv). The trap keeps the shell going to
  // record $? (a shell whose child dies of SIGINT stops too); children get SIGINT's default
  // disposition back, so the fixture sees a real Ctrl-C.
  const shellDir = tempDir(t);
  const exitFile = join(shellDir, 'exit');
  writeFileSync(
    join(shellDir, 'run.sh'),
    `trap 'true' INT\n'${process.execPath}' '${fixture}' slow - '${dir}'\necho $? > exit\nsleep 60\n`,
  );
  tmux('new-session', '-d', '-x', '160', '-y', '20', '-c', shellDir, 'env -u NODE_OPTIONS sh ./run.sh');
  const screen = () => tmux.screen();
  await waitFor('the slow init on screen', () => screen().includes('initialising slowly'));
  const daemonPid = Number(/pid (\d+)/.exec(screen())![1]);
  t.ok(alive(daemonPid));
  tmux('send-keys', 'C-c');
  await waitFor(
    'the shell to record the exit status',
    () => existsSync(exitFile) && readFileSync(exitFile, 'utf8').endsWith('\n'),
  );
  t.equal(readFileSync(exitFile, 'utf8'), '130\n', 'the parent died of SIGINT (130)');
  t.match(screen(), 'fixture: start-up cancelled by SIGINT');
  t.notOk(alive(daemonPid), 'the daemon is gone');
  t.same(processesMentioning(dir), [], 'no process left');
});

t.test('re-exec fails (E2BIG): a message and exit 71', async (t) => {
  const dir = tempDir(t);
  const r = await start(dir, 'exec-fails');
  t.equal(r.code, 71);
  t.equal(r.err, 'fixture: cannot re-execute /proc/self/exe: Argument list too long\n');
});

t.test('no fd left for the pipes (EMFILE): an error, no fd leaked, exit 71', async (t) => {
  const dir = tempDir(t);
  const r = await start(dir, 'no-fds');
  const m = /forkParent: (\w+); fds before (\d+), after (\d+)/.exec(r.stdout);
  t.ok(m, r.stdout);
  t.equal(m![1], 'EMFILE');
  t.equal(m![3], m![2], 'the failed call closed every fd it opened');
  t.equal(r.code, 71);
  t.match(
    r.err,
    'fixture: cannot start the daemon process: too many open files (EMFILE); raise the open-file limit (ulimit -n)',
  );
});

t.test(
  'fork refused (EAGAIN at the process limit): a message and exit 71',
  { skip: process.getuid!() !== 0 && 'needs root to become nobody' },
  async (t) => {
    const dir = tempDir(t);
    const r = await run([
      'setpriv',
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      process.execPath,
      fixture,
      'no-procs',
      '-',
      dir,
    ]);
    t.equal(r.code, 71, r.err);
    t.match(r.err, 'fixture: cannot start the daemon process: resource temporarily unavailable (EAGAIN)');
  },
);
