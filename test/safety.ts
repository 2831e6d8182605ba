// Runtime safety, against every build: the daemon's files are opened without following links,
// and stop/reload signal only a process proven to be the daemon (issue 11).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  chownSync,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { name } from './lib/identity';
import { launchers } from './lib/launchers';
import { alive, processesMentioning, root, run, tempDir, waitFor } from './lib/proc';

const isRoot = process.getuid!() === 0;
const nobody = 65534;

/** A directory the daemon user can write, as the init script's /var/log/NAME is. */
function userWritableDir(dir: string): string {
  const logs = join(dir, 'logs');
  mkdirSync(logs);
  chownSync(logs, nobody, nobody);
  return logs;
}

/** A root-only file that must keep its owner and bytes. */
function precious(dir: string): { path: string; unchanged: () => boolean } {
  const path = join(dir, 'shadow');
  writeFileSync(path, 'root:secret\n', { mode: 0o600 });
  return {
    path,
    unchanged: () => {
      const st = statSync(path);
      return (
        st.uid === 0 && st.gid === 0 && (st.mode & 0o777) === 0o600 && readFileSync(path, 'utf8') === 'root:secret\n'
      );
    },
  };
}

/** A process the test owns (root's, when run as root) that must survive every refused signal. */
function victim(t: { teardown(fn: () => void): void }): ChildProcess {
  const child = spawn('sleep', ['300'], { stdio: 'ignore' });
  t.teardown(() => child.kill('SIGKILL'));
  return child;
}

/**
 * Holds an exclusive flock on path from another process (as `flock -x` would), first writing
 * content into it; "$$" stands for the holder's own pid. Resolves once the lock is held.
 */
async function holdLock(t: { teardown(fn: () => void): void }, path: string, content: string): Promise<ChildProcess> {
  const script = [
    'import fcntl, os, sys, time',
    'fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)',
    'fcntl.flock(fd, fcntl.LOCK_EX)',
    'os.ftruncate(fd, 0)',
    'os.write(fd, sys.argv[2].replace("$$", str(os.getpid())).encode())',
    'print("held", flush=True)',
    'time.sleep(300)',
  ].join('\n');
  const holder = spawn('python3', ['-c', script, path, content], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => holder.kill('SIGKILL'));
  await new Promise<void>((done, fail) => {
    holder.on('error', fail);
    holder.stdout!.once('data', () => done());
  });
  return holder;
}

for (const launcher of launchers()) {
  const daemon = (...args: string[]) => launcher.cmd.concat(args);
  /** Starts as root, to become nobody, with its pid file in dir and its log at log. */
  const startAsNobody = (dir: string, log: string) =>
    run(daemon('--user', 'nobody', '--listen', '127.0.0.1:0', '-p', join(dir, 'pid'), '--log', log));

  t.test(`${launcher.name}: the log file`, { skip: !isRoot && 'needs root to start with --user' }, async (t) => {
    t.test('a symlink planted by the daemon user is refused as root; its target keeps owner and bytes', async (t) => {
      const dir = tempDir(t);
      const logs = userWritableDir(dir);
      const shadow = precious(dir);
      symlinkSync(shadow.path, join(logs, 'log'));
      const r = await startAsNobody(dir, join(logs, 'log'));
      t.equal(r.code, 73, r.err);
      t.match(
        r.err,
        `${name}: refusing log file ${join(logs, 'log')}: it is a symbolic link; remove it or choose another --log\n`,
      );
      t.ok(shadow.unchanged(), 'the target is still root:root 0600 with its bytes');
      t.notOk(existsSync(join(dir, 'pid')), 'no pid file');
      t.same(processesMentioning(dir), [], 'no process');
    });

    t.test('a hard link to a file kept elsewhere is refused', async (t) => {
      const dir = tempDir(t);
      const shadow = precious(dir);
      linkSync(shadow.path, join(dir, 'log'));
      const r = await startAsNobody(dir, join(dir, 'log'));
      t.equal(r.code, 73, r.err);
      t.match(r.err, `refusing log file ${join(dir, 'log')}: it has other hard links`);
      t.ok(shadow.unchanged());
      t.same(processesMentioning(dir), []);
    });

    t.test('a FIFO is refused at once (the open does not hang)', async (t) => {
      const dir = tempDir(t);
      execFileSync('mkfifo', [join(dir, 'log')]);
      const r = await run(daemon('--listen', '127.0.0.1:0', '-p', join(dir, 'pid'), '--log', join(dir, 'log')), {
        timeoutMs: 20_000,
      });
      t.equal(r.code, 73, r.err);
      t.match(r.err, 'it is not a regular file');
    });

    t.test(
      'an existing log file keeps its owner; a new one goes to --user, and SIGHUP reopens it as the user',
      async (t) => {
        const dir = tempDir(t);
        const logs = userWritableDir(dir);
        const log = join(logs, 'log');
        writeFileSync(log, '', { mode: 0o644 });
        let r = await startAsNobody(dir, log);
        t.equal(r.code, 0, r.err);
        t.equal(statSync(log).uid, 0, 'a file the daemon did not create is not given away');
        t.equal((await run(daemon('stop', '-p', join(dir, 'pid')))).code, 0);

        const fresh = join(logs, 'fresh.log');
        r = await startAsNobody(dir, fresh);
        t.equal(r.code, 0, r.err);
        t.equal(statSync(fresh).uid, nobody, 'the file it created belongs to the user');
        renameSync(fresh, `${fresh}.1`);
        const reload = await run(daemon('reload', '-p', join(dir, 'pid')));
        t.equal(reload.code, 0, reload.err);
        await waitFor('the reopened log', () => existsSync(fresh) && readFileSync(fresh, 'utf8').includes('reloaded'));
        t.equal(statSync(fresh).uid, nobody, 'reopened after the privilege drop, by the user');
        const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
        t.equal((await run(daemon('stop', '-p', join(dir, 'pid')))).code, 0);
        t.notOk(alive(pid));
      },
    );
  });
}

for (const launcher of launchers()) {
  const daemon = (...args: string[]) => launcher.cmd.concat(args);

  t.test(`${launcher.name}: stop and reload signal only the daemon`, async (t) => {
    t.test('another process holds the lock and names a foreign pid: nothing signalled, exit 1', async (t) => {
      const dir = tempDir(t);
      const pidFile = join(dir, 'pid');
      const target = victim(t);
      const holder = await holdLock(t, pidFile, `${target.pid}\n`);
      for (const command of ['stop', 'reload']) {
        const r = await run(daemon(command, '-p', pidFile));
        t.equal(r.code, 1, `${command}: exit 1`);
        t.equal(
          r.err,
          `${name}: cannot tell whether ${name} runs: ${pidFile} is locked by pid ${holder.pid} but names pid ${target.pid}; nothing signalled (see who holds it: fuser -v ${pidFile})\n`,
        );
      }
      const status = await run(daemon('status', '-p', pidFile));
      t.equal(status.code, 4, 'status: unknown (4)');
      t.ok(alive(target.pid!), 'the process named in the file lives');
      t.ok(alive(holder.pid!), 'and so does the lock holder');
    });

    t.test('the lock holder names itself but is not this program: nothing signalled, exit 1', async (t) => {
      const dir = tempDir(t);
      const pidFile = join(dir, 'pid');
      const holder = await holdLock(t, pidFile, '$$\n');
      for (const command of ['stop', 'reload']) {
        const r = await run(daemon(command, '-p', pidFile));
        t.equal(r.code, 1, `${command}: exit 1`);
        t.match(
          r.err,
          new RegExp(
            `^${name}: cannot ${command}: pid ${holder.pid} holds the pid file but runs \\S*python\\S*, not \\S+; nothing signalled\\n$`,
          ),
        );
      }
      t.ok(alive(holder.pid!));
    });

    t.test("the daemon's own pid file rewritten with another pid: neither is signalled", async (t) => {
      const dir = tempDir(t);
      const pidFile = join(dir, 'pid');
      const r = await run(daemon('--listen', '127.0.0.1:0', '-p', pidFile));
      t.equal(r.code, 0, r.err);
      const pid = Number(readFileSync(pidFile, 'utf8'));
      const target = victim(t);
      writeFileSync(pidFile, `${target.pid}\n`); // in place: the daemon still holds the lock
      for (const command of ['stop', 'reload']) {
        const c = await run(daemon(command, '-p', pidFile));
        t.equal(c.code, 1, `${command}: exit 1`);
        t.match(c.err, `is locked by pid ${pid} but names pid ${target.pid}; nothing signalled`);
      }
      t.ok(alive(target.pid!), 'the named process lives');
      t.ok(alive(pid), 'the daemon lives');
      writeFileSync(pidFile, `${pid}\n`);
      t.equal((await run(daemon('stop', '-p', pidFile))).code, 0, 'put right, stop works');
      t.notOk(alive(pid));
    });

    for (const content of ['', 'garbage\n', '0\n', '1\n', '-1\n', '00\n', ' 7\n', '99999999999\n']) {
      t.test(
        `a locked pid file holding ${JSON.stringify(content)}: nothing signalled, the caller survives`,
        async (t) => {
          const dir = tempDir(t);
          const pidFile = join(dir, 'pid');
          await holdLock(t, pidFile, content);
          for (const command of ['stop', 'reload']) {
            // Through a shell in a process group of its own: kill(0, ...) signals the caller's group.
            const quoted = daemon(command, '-p', pidFile)
              .map((a) => `'${a}'`)
              .join(' ');
            const r = await run(['setsid', '-w', 'sh', '-c', `${quoted}; echo "survived $?"`]);
            t.equal(r.stdout, 'survived 1\n', `${command}: exit 1, and the calling shell was not signalled`);
            t.match(r.err, 'holds no valid pid; nothing signalled');
          }
        },
      );
    }
  });

  t.test(`${launcher.name}: a raw reader never finds the pid file locked but empty or stale`, async (t) => {
    const dir = tempDir(t);
    const pidFile = join(dir, 'pid');
    const stop = join(dir, 'stop-reading');
    const reader = spawn('python3', [join(root, 'test', 'fixtures', 'pidfile-reader.py'), pidFile, stop], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    t.teardown(() => reader.kill('SIGKILL'));
    let out = '';
    reader.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    const done = new Promise((r) => reader.on('close', r));
    let starts = 0;
    for (let i = 0; i < 20; i++) {
      const r = await run(daemon('--listen', '127.0.0.1:0', '-p', pidFile));
      if (r.code !== 0) t.fail(`start ${i}: ${r.err}`);
      else starts++;
      const pid = Number(readFileSync(pidFile, 'utf8'));
      // Half the time a stale file is left for the next start to take over.
      if (i % 2) process.kill(pid, 'SIGKILL');
      else t.equal((await run(daemon('stop', '-p', pidFile))).code, 0);
      await waitFor('the daemon gone', () => !alive(pid));
    }
    writeFileSync(stop, '');
    await done;
    const seen = JSON.parse(out) as Record<string, number> & { examples: unknown[] };
    t.comment(JSON.stringify(seen));
    t.equal(starts, 20, '20 of 20 starts, with a reader taking shared locks all along');
    t.ok(seen.locked_ok > 0, 'the reader saw running daemons');
    t.equal(seen.locked_empty, 0, 'never locked but empty');
    t.equal(seen.locked_garbage, 0, 'never locked with a partial number');
    t.equal(seen.locked_stale, 0, 'never locked with a dead pid in it');
  });
}
