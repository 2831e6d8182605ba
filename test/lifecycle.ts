// The daemon's lifecycle as a user sees it, against every build of the runtime's test daemon
// (test/lib/launchers: the runtime with test/fixtures/daemon/'s server, not src/server/), the
// other architectures' builds included, under qemu-user.
import {
  closeSync,
  existsSync,
  fstatSync,
  openSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { Agent, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { greeting, name } from './lib/identity';
import { everyArchLaunchers } from './lib/launchers';
import {
  alive,
  fdTargets,
  get,
  listenerPids,
  portFrom,
  processesMentioning,
  procStat,
  run,
  spawnClean,
  tempDir,
  waitFor,
} from './lib/proc';

for (const launcher of everyArchLaunchers()) {
  const daemon = (...args: string[]) => launcher.cmd.concat(args);

  t.test(`${launcher.name}: start-up`, async (t) => {
    // One start, looked at phase by phase, so that a failure names its phase.
    t.test('started from a shell: it serves once the parent exits, and is a proper daemon', async (t) => {
      const dir = tempDir(t);
      const pidFile = join(dir, `${name}.pid`);
      // An fd the starting shell had open must not reach the daemon.
      const inherited = openSync(join(dir, 'inherited'), 'w');
      t.teardown(() => closeSync(inherited));
      let port = 0;
      let pid = 0;
      t.teardown(() => {
        if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
      });

      await t.test('the parent exits 0 only once the daemon serves', async (t) => {
        // Started from a shell whose umask is 077: forked, it resets to daemon(7)'s 022.
        const r = await run(
          [
            'sh',
            '-c',
            'umask 077; exec "$@"',
            'sh',
            ...daemon('--listen', '127.0.0.1:0', '--pidfile', pidFile, '--log', join(dir, 'log')),
          ],
          {
            extraFds: [inherited],
          },
        );
        t.equal(r.code, 0, `parent exit code (stderr: ${r.err})`);
        port = portFrom(r.err);
        // No retry: the port must already accept connections when the parent has exited.
        const res = await get(port);
        t.equal(res.status, 200);
        t.equal(res.body, `${greeting}\n`);
        pid = Number(readFileSync(pidFile, 'utf8'));
        t.not(pid, r.pid, 'the pid file names the daemon, not the parent');
      });

      await t.test('the process in the pid file listens, detached, in /, umask 022, named', async (t) => {
        t.same(listenerPids(port), [pid], 'the process in the pid file is the one that listens');
        const st = procStat(pid)!;
        t.equal(st.session, pid, 'session leader');
        t.equal(st.pgrp, pid, 'process group leader');
        t.equal(st.ttyNr, 0, 'no controlling terminal');
        t.equal(readlinkSync(`/proc/${pid}/cwd`), '/', 'cwd is /');
        t.match(readFileSync(`/proc/${pid}/status`, 'utf8'), /^Umask:\t0022$/m, 'umask 022 (the shell had 077)');
        t.equal(
          readFileSync(`/proc/${pid}/comm`, 'utf8'),
          `${name}\n`,
          `named ${name} (pgrep -x, killall), not MainThread`,
        );
        t.same(
          (await run(['pgrep', '-x', name])).stdout
            .trim()
            .split('\n')
            .map(Number)
            .filter((p) => p === pid),
          [pid],
          `pgrep -x ${name} finds it`,
        );
      });

      await t.test('stdin /dev/null, stdout and stderr the log file, no inherited fd, the marker', async (t) => {
        const fds = fdTargets(pid);
        t.equal(fds.get(0), '/dev/null', 'stdin is /dev/null');
        t.equal(fds.get(1), join(dir, 'log'), 'stdout is the log file once ready too');
        t.equal(fds.get(2), join(dir, 'log'), 'stderr is the log file once ready');
        const inheritedIno = `${fstatSync(inherited).ino}`;
        t.notOk(
          [...fds.values()].some((l) => l === join(dir, 'inherited')),
          `the inherited fd (inode ${inheritedIno}) did not leak into the daemon`,
        );
        const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
        t.match(environ, /FORKD_READY=/, 'the daemon image was started with the marker');
      });

      await t.test('/healthz answers with its pid', async (t) => {
        const health = await get(port, '/healthz');
        t.equal(health.status, 200);
        t.match(JSON.parse(health.body), { status: 'ok', pid });
      });

      await t.test('stop: gone, pid file removed, the log tells the story', async (t) => {
        const stop = await run(daemon('stop', '--pidfile', pidFile));
        t.equal(stop.code, 0, stop.err);
        t.match(stop.stdout, `${name} (pid ${pid}) stopped`);
        t.notOk(alive(pid), 'daemon gone');
        t.notOk(existsSync(pidFile), 'pid file removed');
        t.match(readFileSync(join(dir, 'log'), 'utf8'), /ready \(pid \d+\)[\s\S]*stopping \(SIGTERM\)[\s\S]*stopped/);
      });
    });

    t.test('a config error: the line on the terminal, exit 78, no pid file, no process', async (t) => {
      const dir = tempDir(t);
      const config = join(dir, 'bad.toml');
      writeFileSync(config, 'listen = "127.0.0.1:0"\ngreeting = "unterminated\n');
      const r = await run(daemon('--config', config, '--pidfile', join(dir, 'pid')));
      t.equal(r.code, 78, r.err);
      t.match(r.err, `${name}: config ${config}:2:`);
      t.match(r.err, `${name}: exited with code 78 during start-up`);
      t.notOk(existsSync(join(dir, 'pid')), 'no pid file');
      t.same(processesMentioning(dir), [], 'no process left');
    });

    t.test('port in use: exit 69 with the address named', async (t) => {
      const dir = tempDir(t);
      const blocker = createServer();
      await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
      t.teardown(() => blocker.close());
      const port = (blocker.address() as AddressInfo).port;
      const r = await run(daemon('--listen', `127.0.0.1:${port}`, '--pidfile', join(dir, 'pid')));
      t.equal(r.code, 69, r.err);
      t.match(r.err, `${name}: cannot bind 127.0.0.1:${port}: address in use`);
      t.notOk(existsSync(join(dir, 'pid')), 'the pid file of a failed start is removed');
      t.same(processesMentioning(dir), []);
    });

    t.test('bad working directory, pid file directory or log file: clear line, sysexits code', async (t) => {
      const dir = tempDir(t);
      let r = await run(daemon('--listen', '127.0.0.1:0', '--chdir', join(dir, 'nope'), '-p', join(dir, 'pid')));
      t.equal(r.code, 66);
      t.match(r.err, `cannot change directory to ${join(dir, 'nope')}`);
      r = await run(daemon('--listen', '127.0.0.1:0', '-p', join(dir, 'no', 'such', 'dir', 'pid')));
      t.equal(r.code, 73);
      t.match(
        r.err,
        `directory ${join(dir, 'no', 'such', 'dir')} does not exist; create it or choose another --pidfile`,
      );
      r = await run(daemon('--listen', '127.0.0.1:0', '-p', join(dir, 'pid'), '--log', join(dir, 'nodir', 'log')));
      t.equal(r.code, 73);
      t.match(r.err, `cannot open log file ${join(dir, 'nodir', 'log')}`);
      t.notOk(existsSync(join(dir, 'pid')));
      t.same(processesMentioning(dir), []);
    });
  });

  t.test(`${launcher.name}: pid file`, async (t) => {
    t.test('a second instance is refused and the first is left alone', async (t) => {
      const dir = tempDir(t);
      const pidFile = join(dir, 'pid');
      const first = await run(daemon('--listen', '127.0.0.1:0', '-p', pidFile));
      t.equal(first.code, 0, first.err);
      const pid = Number(readFileSync(pidFile, 'utf8'));
      const second = await run(daemon('--listen', '127.0.0.1:0', '-p', pidFile));
      t.equal(second.code, 69);
      t.match(second.err, `${name}: already running (pid ${pid})`);
      t.equal(Number(readFileSync(pidFile, 'utf8')), pid, 'pid file untouched');
      t.ok(alive(pid), 'first instance still running');
      t.equal((await get(portFrom(first.err))).status, 200, 'and still serving');
      t.equal((await run(daemon('stop', '-p', pidFile))).code, 0);
    });

    t.test('a stale pid file is taken over', async (t) => {
      const dir = tempDir(t);
      const pidFile = join(dir, 'pid');
      writeFileSync(pidFile, '999999\n');
      const status = await run(daemon('status', '-p', pidFile));
      t.equal(status.code, 1, 'status: not running but the pid file exists');
      const r = await run(daemon('--listen', '127.0.0.1:0', '-p', pidFile));
      t.equal(r.code, 0, r.err);
      const pid = Number(readFileSync(pidFile, 'utf8'));
      t.not(pid, 999999);
      t.ok(alive(pid));
      t.equal((await run(daemon('stop', '-p', pidFile))).code, 0);
      t.notOk(existsSync(pidFile));
    });

    t.test('a symlink as the pid file is refused and its target untouched', async (t) => {
      const dir = tempDir(t);
      const target = join(dir, 'precious');
      writeFileSync(target, 'keep me\n');
      const pidFile = join(dir, 'pid');
      symlinkSync(target, pidFile);
      const r = await run(daemon('--listen', '127.0.0.1:0', '-p', pidFile));
      t.equal(r.code, 73);
      t.match(
        r.err,
        `${name}: refusing pid file ${pidFile}: it is a symbolic link; remove it or choose another --pidfile`,
      );
      t.equal(readFileSync(target, 'utf8'), 'keep me\n');
      symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling'));
      const d = await run(daemon('--listen', '127.0.0.1:0', '-p', join(dir, 'dangling')));
      t.equal(d.code, 73, 'a dangling symlink is refused too');
      t.notOk(existsSync(join(dir, 'nowhere')), 'and nothing was created through it');
      t.same(processesMentioning(dir), []);
    });
  });

  t.test(`${launcher.name}: signals and control commands`, async (t) => {
    t.test('SIGHUP serves the new greeting without dropping a kept-alive connection', async (t) => {
      const dir = tempDir(t);
      const config = join(dir, 'c.toml');
      const pidFile = join(dir, 'pid');
      writeFileSync(config, 'listen = "127.0.0.1:0"\ngreeting = "first"\n');
      const r = await run(daemon('-c', config, '-p', pidFile, '--log', join(dir, 'log')));
      t.equal(r.code, 0, r.err);
      const port = portFrom(r.err);
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      t.teardown(() => agent.destroy());
      const before = await get(port, '/', agent);
      t.equal(before.body, 'first\n');
      writeFileSync(config, 'listen = "127.0.0.1:0"\ngreeting = "second"\n');
      // SIGHUP itself, not the reload command: under qemu starting the command alone can outlast
      // the server's 5 s keep-alive timeout, which would close the idle connection. The command
      // is tested below (log rotation, LSB codes).
      process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGHUP');
      await waitFor('reloaded in the log', () => readFileSync(join(dir, 'log'), 'utf8').includes('reloaded'));
      const after = await get(port, '/', agent);
      t.equal(after.body, 'second\n');
      t.equal(after.localPort, before.localPort, 'same connection before and after the reload');

      writeFileSync(config, 'greeting = [\n');
      const pid = Number(readFileSync(pidFile, 'utf8'));
      process.kill(pid, 'SIGHUP');
      await waitFor('reload failure logged', () => readFileSync(join(dir, 'log'), 'utf8').includes('reload failed'));
      t.equal((await get(port)).body, 'second\n', 'a broken config on reload keeps the running one');
      t.ok(alive(pid));

      process.kill(pid, 'SIGTERM');
      await waitFor('daemon exit', () => !alive(pid));
      t.notOk(existsSync(pidFile), 'SIGTERM removes the pid file');
      t.match(readFileSync(join(dir, 'log'), 'utf8'), /stopped\n$/, 'and stops cleanly');
    });

    t.test('SIGHUP reopens the log file (log rotation)', async (t) => {
      const dir = tempDir(t);
      const log = join(dir, 'log');
      const r = await run(daemon('--listen', '127.0.0.1:0', '-p', join(dir, 'pid'), '--log', log));
      t.equal(r.code, 0, r.err);
      const { renameSync } = await import('node:fs');
      renameSync(log, `${log}.1`);
      t.equal((await run(daemon('reload', '-p', join(dir, 'pid')))).code, 0);
      await waitFor('a new log file', () => existsSync(log) && readFileSync(log, 'utf8').includes('reloaded'));
      t.notMatch(readFileSync(`${log}.1`, 'utf8'), 'reloaded', 'the rotated file no longer grows');
      t.equal((await run(daemon('stop', '-p', join(dir, 'pid')))).code, 0);
    });

    t.test('stop, status and reload report LSB codes', async (t) => {
      const dir = tempDir(t);
      const pidFile = join(dir, 'pid');
      const status = async () => (await run(daemon('status', '-p', pidFile))).code;
      t.equal(await status(), 3, 'status: not running');
      t.equal((await run(daemon('stop', '-p', pidFile))).code, 0, 'stop when not running: 0');
      const reload = await run(daemon('reload', '-p', pidFile));
      t.equal(reload.code, 7, 'reload when not running: 7');
      t.match(reload.err, `${name}: cannot reload: ${name} is not running`);
      const r = await run(daemon('--listen', '127.0.0.1:0', '-p', pidFile));
      t.equal(r.code, 0);
      const s = await run(daemon('status', '-p', pidFile));
      t.equal(s.code, 0);
      t.match(s.stdout, new RegExp(`^${name} is running \\(pid \\d+\\)$`, 'm'));
      const stop = await run(daemon('stop', '-p', pidFile));
      t.equal(stop.code, 0);
      t.equal(await status(), 3);
      const wrong = await run(daemon('status', '-p', pidFile, '--listen', '1.2.3.4:5'));
      t.equal(wrong.code, 64, 'control commands take only --pidfile');
    });

    t.test('--foreground stays attached, logs to stderr, stops cleanly on SIGTERM', async (t) => {
      const dir = tempDir(t);
      // As a service manager starts it with UMask=0027: the umask given is kept.
      const child = spawnClean(
        ['sh', '-c', 'umask 027; exec "$@"', 'sh', ...daemon('-f', '--listen', '127.0.0.1:0', '--chdir', dir)],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let err = '';
      child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
      const exited = new Promise<[number | null, string | null]>((r) => child.on('close', (c, s) => r([c, s])));
      await waitFor('listening line', () => /listening on/.test(err));
      const port = portFrom(err);
      t.same(listenerPids(port), [child.pid], 'no fork: the started process itself serves');
      t.equal((await get(port)).body, `${greeting}\n`);
      t.equal(readlinkSync(`/proc/${child.pid}/cwd`), dir, '--chdir honoured');
      t.match(
        readFileSync(`/proc/${child.pid}/status`, 'utf8'),
        /^Umask:\t0027$/m,
        'the umask it was given (027) is kept',
      );
      t.equal(readFileSync(`/proc/${child.pid}/comm`, 'utf8'), `${name}\n`, `named ${name}`);
      child.kill('SIGTERM');
      const [code, signal] = await exited;
      t.equal(code, 0);
      t.equal(signal, null);
      t.match(
        err,
        new RegExp(
          `${name}: listening on .*\\n${name}: ready \\(pid \\d+\\)\\n${name}: stopping \\(SIGTERM\\)\\n${name}: stopped\\n$`,
        ),
      );
    });
  });
}
