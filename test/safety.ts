// Runtime safety, against every build: the daemon's files are opened without following links,
// and stop/reload signal only a process proven to be the daemon (issue 11).
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, linkSync, mkdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { name } from './lib/identity';
import { launchers } from './lib/launchers';
import { alive, processesMentioning, run, tempDir, waitFor } from './lib/proc';

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
      return st.uid === 0 && st.gid === 0 && (st.mode & 0o777) === 0o600 && readFileSync(path, 'utf8') === 'root:secret\n';
    },
  };
}

for (const launcher of launchers()) {
  const daemon = (...args: string[]) => launcher.cmd.concat(args);

  t.test(`${launcher.name}: the log file`, { skip: !isRoot && 'needs root to start with --user' }, async (t) => {
    t.test('a symlink planted by the daemon user is refused as root; its target keeps owner and bytes', async (t) => {
      const dir = tempDir(t);
      const logs = userWritableDir(dir);
      const shadow = precious(dir);
      symlinkSync(shadow.path, join(logs, 'log'));
      const r = await run(daemon('--user', 'nobody', '--listen', '127.0.0.1:0', '-p', join(dir, 'pid'), '--log', join(logs, 'log')));
      t.equal(r.code, 73, r.err);
      t.match(r.err, `${name}: refusing log file ${join(logs, 'log')}: it is a symbolic link; remove it or choose another --log\n`);
      t.ok(shadow.unchanged(), 'the target is still root:root 0600 with its bytes');
      t.notOk(existsSync(join(dir, 'pid')), 'no pid file');
      t.same(processesMentioning(dir), [], 'no process');
    });

    t.test('a hard link to a file kept elsewhere is refused', async (t) => {
      const dir = tempDir(t);
      const shadow = precious(dir);
      linkSync(shadow.path, join(dir, 'log'));
      const r = await run(daemon('--user', 'nobody', '--listen', '127.0.0.1:0', '-p', join(dir, 'pid'), '--log', join(dir, 'log')));
      t.equal(r.code, 73, r.err);
      t.match(r.err, `refusing log file ${join(dir, 'log')}: it has other hard links`);
      t.ok(shadow.unchanged());
      t.same(processesMentioning(dir), []);
    });

    t.test('a FIFO is refused at once (the open does not hang)', async (t) => {
      const dir = tempDir(t);
      execFileSync('mkfifo', [join(dir, 'log')]);
      const r = await run(daemon('--listen', '127.0.0.1:0', '-p', join(dir, 'pid'), '--log', join(dir, 'log')), { timeoutMs: 20_000 });
      t.equal(r.code, 73, r.err);
      t.match(r.err, 'it is not a regular file');
    });

    t.test('an existing log file keeps its owner; a new one goes to --user, and SIGHUP reopens it as the user', async (t) => {
      const dir = tempDir(t);
      const logs = userWritableDir(dir);
      const log = join(logs, 'log');
      writeFileSync(log, '', { mode: 0o644 });
      let r = await run(daemon('--user', 'nobody', '--listen', '127.0.0.1:0', '-p', join(dir, 'pid'), '--log', log));
      t.equal(r.code, 0, r.err);
      t.equal(statSync(log).uid, 0, 'a file the daemon did not create is not given away');
      t.equal((await run(daemon('stop', '-p', join(dir, 'pid')))).code, 0);

      const fresh = join(logs, 'fresh.log');
      r = await run(daemon('--user', 'nobody', '--listen', '127.0.0.1:0', '-p', join(dir, 'pid'), '--log', fresh));
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
    });
  });
}
