// `NAME restart` in fork mode (ARCHITECTURE.md §2, "Restart"): the successor takes the listening
// sockets over under loopback load, with 0 failed requests, a pid file that names a live, locked
// daemon throughout, requests in flight and long-lived responses left to the old daemon until its
// stop bound, a failed successor that leaves the old daemon serving, and the executable's current
// file run after it was replaced on disk. Real processes, ephemeral ports, both builds.
import { spawn } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, readlinkSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { alive } from '../src/daemon/alive';
import { STOP_TIMEOUT_MS } from '../src/daemon/defaults';
import { greeting, name } from './lib/identity';
import { executablePath, launchers } from './lib/launchers';
import { get, portFrom, processesMentioning, procStat, root, run, spawnClean, tempDir, waitFor } from './lib/proc';

// autocannon's result, as far as this test reads it.
interface Cannon {
  requests: { total: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  resets: number;
}
const autocannon = require('autocannon') as (o: object) => Promise<Cannon> & { stop(): void };

/** Loopback load with autocannon (50 connections) until stopped, or the test ends; every failure counted. */
function load(t: Test, port: number) {
  const instance = autocannon({ url: `http://127.0.0.1:${port}/`, connections: 50, duration: 600 });
  t.teardown(() => (instance as unknown as { stop(): void }).stop());
  return {
    stop: async (): Promise<Cannon & { failed: number }> => {
      (instance as unknown as { stop(): void }).stop();
      const r = await instance;
      return { ...r, failed: r.errors + r.timeouts + r.non2xx + r.resets };
    },
  };
}

/** The raw pid-file reader of test/fixtures (open, read, shared-lock test) polling all along. */
function readPidFile(pidFile: string, dir: string) {
  const stop = join(dir, 'stop-reading');
  const reader = spawn('python3', [join(root, 'test', 'fixtures', 'pidfile-reader.py'), pidFile, stop], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  reader.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const done = new Promise((r) => reader.on('close', r));
  return {
    kill: () => reader.kill('SIGKILL'),
    stop: async () => {
      writeFileSync(stop, '');
      await done;
      return JSON.parse(out) as Record<string, number> & { pids: number[]; examples: unknown[] };
    },
  };
}

const pidIn = (pidFile: string) => Number(readFileSync(pidFile, 'utf8'));

/** GET /stream: the lines received, and when and how the response ended. */
function openStream(port: number) {
  const lines: string[] = [];
  const ended = new Promise<{ at: number; lines: string[]; how: string }>((done) => {
    const req = request({ host: '127.0.0.1', port, path: '/stream', agent: false }, (res) => {
      let rest = '';
      res.on('data', (c: Buffer) => {
        const parts = (rest + c.toString()).split('\n');
        rest = parts.pop()!;
        lines.push(...parts);
      });
      res.on('close', () => done({ at: Date.now(), lines, how: res.complete ? 'complete' : 'closed' }));
    });
    req.on('error', (e) => done({ at: Date.now(), lines, how: e.message }));
    req.end();
  });
  return { lines, ended };
}

for (const launcher of launchers()) {
  const daemon = (...args: string[]) => launcher.cmd.concat(args);

  /**
   * Starts a daemon on an ephemeral loopback port: its pid file, port and pid, and its options,
   * which `restart` takes too (the new daemon's command line). Killed at teardown (tempDir).
   */
  async function start(t: Test, dir: string, ...extra: string[]) {
    const pidFile = join(dir, `${name}.pid`);
    const options = ['--listen', '127.0.0.1:0', '--pidfile', pidFile, '--log', join(dir, 'log'), ...extra];
    const r = await run(daemon(...options), { cwd: dir });
    t.equal(r.code, 0, `started (stderr: ${r.err})`);
    const pid = pidIn(pidFile);
    return { pidFile, port: portFrom(r.err), pid, options };
  }

  t.test(`${launcher.name}: restart ×10 under load: 0 failed requests, the pid file always valid`, async (t) => {
    const dir = tempDir(t);
    const { pidFile, port, pid: first, options } = await start(t, dir);
    const reader = readPidFile(pidFile, dir);
    t.teardown(reader.kill);
    const cannon = load(t, port);
    await new Promise((r) => setTimeout(r, 300));
    const pids = [first];
    for (let i = 0; i < 10; i++) {
      const old = pids[pids.length - 1];
      const r = await run(daemon('restart', ...options));
      t.equal(r.code, 0, `restart ${i + 1} exits 0 (stderr: ${r.err})`);
      const now = pidIn(pidFile);
      t.match(r.stdout, `${name} (pid ${old}) replaced by pid ${now}\n`, `restart ${i + 1} says who replaced whom`);
      t.not(now, old, 'the pid file names the successor');
      t.notOk(alive(old), 'the old daemon has exited when the command returns');
      pids.push(now);
    }
    await new Promise((r) => setTimeout(r, 300));
    const result = await cannon.stop();
    const seen = await reader.stop();
    t.comment(`${result.requests.total} requests, ${result.failed} failed; pid file reads: ${JSON.stringify(seen)}`);
    t.ok(result.requests.total > 1000, 'the load ran all along');
    t.equal(result.failed, 0, '0 failed requests over the whole window (errors, timeouts, resets, non-2xx)');
    t.equal(seen.absent, 0, 'the pid file was never missing');
    t.equal(seen.unlocked, 0, 'the pid file was never unlocked');
    t.equal(seen.locked_stale + seen.locked_empty + seen.locked_garbage, 0, 'always a live pid, locked');
    // In turn and nothing else; the reader may miss a daemon while it is descheduled (or starting).
    const inTurn = seen.pids.every((p, i) => i === 0 || pids.indexOf(p) > pids.indexOf(seen.pids[i - 1]));
    t.ok(
      seen.pids.every((p) => pids.includes(p)) && inTurn,
      `it named the daemons in turn, no other pid: ${seen.pids.length} of ${pids.length} seen`,
    );
    t.equal(seen.pids[seen.pids.length - 1], pids[pids.length - 1], 'the last one last');
    const last = pids[pids.length - 1];
    t.equal((await get(port)).body, `${greeting}\n`, 'the last successor serves');
    t.equal((await run(daemon('stop', '--pidfile', pidFile))).code, 0);
    t.notOk(alive(last));
  });

  t.test(
    `${launcher.name}: in flight and long-lived requests stay with the old daemon, up to its stop bound`,
    async (t) => {
      const dir = tempDir(t);
      const { pidFile, port, pid: old, options } = await start(t, dir);
      // One request that takes 1.5 s, and one response that streams for as long as it lasts.
      const slow = get(port, '/slow?ms=1500');
      const stream = openStream(port);
      await waitFor('the stream', () => stream.lines.length > 0);
      const began = Date.now();
      const r = await run(daemon('restart', ...options));
      t.equal(r.code, 0, `restart exits 0 (stderr: ${r.err})`);
      const successor = pidIn(pidFile);
      t.not(successor, old, 'a successor');
      t.equal((await slow).body, `${old}\n`, 'the request in flight was answered by the old daemon');
      const s = await stream.ended;
      const endedAfter = s.at - began;
      t.comment(
        `the stream ended (${s.how}) ${endedAfter} ms after the restart began; restart took ${Date.now() - began} ms`,
      );
      t.ok(
        s.lines.every((l) => l === String(old)),
        'the long-lived response came from the old daemon throughout',
      );
      t.ok(endedAfter >= STOP_TIMEOUT_MS - 500, `it lasted until the stop bound (${STOP_TIMEOUT_MS} ms)`);
      t.notOk(alive(old), 'then the old daemon exited, and the restart command returned');
      t.match(
        readFileSync(join(dir, 'log'), 'utf8'),
        `graceful stop took longer than ${STOP_TIMEOUT_MS / 1000} s; exiting anyway`,
      );
      t.equal((await get(port, '/healthz')).body.includes(`"pid":${successor}`), true, 'the successor serves');
      await run(daemon('stop', '--pidfile', pidFile));
    },
  );

  t.test(`${launcher.name}: a successor that fails its start-up leaves the old daemon serving`, async (t) => {
    const dir = tempDir(t);
    const config = join(dir, 'c.toml');
    writeFileSync(config, `greeting = "before"\n`);
    // A relative path: the restart reads it where it runs, as a start does.
    const { pidFile, port, pid, options } = await start(t, dir, '--config', 'c.toml');
    const cannon = load(t, port);
    await new Promise((r) => setTimeout(r, 200));
    writeFileSync(config, 'greeting = \n');
    const r = await run(daemon('restart', ...options), { cwd: dir });
    const otherPid = options.map((o) => (o === pidFile ? join(dir, 'other.pid') : o));
    const failedStart = await run(daemon(...otherPid), { cwd: dir });
    await new Promise((r) => setTimeout(r, 200));
    const result = await cannon.stop();
    t.comment(`${result.requests.total} requests, ${result.failed} failed; restart said: ${r.err}`);
    t.equal(r.code, 78, 'the restart exits as the failed start does: 78, a config error');
    t.equal(r.code, failedStart.code, 'the same exit code as a start with that config');
    const lines = (s: string) => s.split('\n').filter((l) => !/no config file|listening on|ignored/.test(l));
    t.same(lines(r.err), lines(failedStart.err), "the same lines as the failed start's");
    t.match(r.err, /exited with code 78 during start-up/);
    t.equal(r.stdout, '', 'no "replaced" line');
    t.equal(result.failed, 0, '0 failed requests');
    t.ok(result.requests.total > 100, 'the load ran');
    t.equal(pidIn(pidFile), pid, 'the pid file still names the old daemon');
    t.ok(alive(pid), 'the old daemon runs');
    t.equal((await get(port)).body, 'before\n', 'and serves with its configuration');
    t.match(readFileSync(join(dir, 'log'), 'utf8'), /the successor did not start.*serving on/);
    // Fixed, the next restart goes through.
    writeFileSync(config, `greeting = "after"\n`);
    const again = await run(daemon('restart', ...options), { cwd: dir });
    t.equal(again.code, 0, again.err);
    t.equal((await get(port)).body, 'after\n', 'the successor read the config again');
    await run(daemon('stop', '--pidfile', pidFile));
  });

  t.test(`${launcher.name}: a restart command killed while the successor starts leaves one daemon`, async (t) => {
    const dir = tempDir(t);
    const { pidFile, port, pid: old, options } = await start(t, dir);
    const cannon = load(t, port);
    await new Promise((r) => setTimeout(r, 200));
    const command = spawnClean(daemon('restart', ...options), { stdio: ['ignore', 'ignore', 'ignore'] });
    const exited = new Promise((r) => command.on('exit', r));
    // SIGKILL as soon as the successor exists: it is starting, its parent is gone.
    let successor = 0;
    await waitFor('the successor', () => {
      successor =
        readdirSync('/proc')
          .filter((d) => /^\d+$/.test(d))
          .map(Number)
          .find((p) => procStat(p)?.ppid === command.pid) ?? 0;
      return successor > 0;
    });
    command.kill('SIGKILL');
    await exited;
    await waitFor('the successor takes over', () => pidIn(pidFile) === successor);
    await waitFor('the old daemon gone', () => !alive(old));
    const result = await cannon.stop();
    t.ok(alive(successor), 'the successor serves');
    t.equal((await get(port)).body, `${greeting}\n`);
    t.equal(result.failed, 0, `0 failed requests (${result.requests.total})`);
    await run(daemon('stop', '--pidfile', pidFile));
  });

  t.test(`${launcher.name}: restart refuses a server that binds its address itself`, async (t) => {
    const dir = tempDir(t);
    const pidFile = join(dir, `${name}.pid`);
    const options = ['--listen', '127.0.0.1:0', '--pidfile', pidFile, '--log', join(dir, 'log')];
    const env = { FIXTURE_BINDS_ITSELF: '1' };
    const started = await run(daemon(...options), { cwd: dir, env });
    t.equal(started.code, 0, started.err);
    const pid = pidIn(pidFile);
    const port = portFrom(started.err);
    const r = await run(daemon('restart', ...options), { env });
    t.equal(r.code, 150, 'exit 150: stop, then start');
    t.match(
      r.err,
      `${name}: cannot restart: pid ${pid}'s server binds its own sockets (it does not declare servesListenFds)`,
      'one line naming why and the way out',
    );
    t.equal(r.stdout, '');
    t.equal(pidIn(pidFile), pid, 'the pid file still names it');
    t.equal((await get(port)).body, `${greeting}\n`, 'and it serves on');
    t.same(processesMentioning(dir), [pid], 'no successor was started');
    await run(daemon('stop', '--pidfile', pidFile));
  });

  t.test(`${launcher.name}: restart refuses what it cannot restart, and signals nothing`, async (t) => {
    const dir = tempDir(t);
    const pidFile = join(dir, 'none.pid');
    const notRunning = await run(daemon('restart', '--pidfile', pidFile));
    t.equal(notRunning.code, 7, 'not running: 7');
    t.match(notRunning.err, `${name}: cannot restart: ${name} is not running`);
    const fgPid = join(dir, 'fg.pid');
    const fg = spawnClean(daemon('--foreground', '--listen', '127.0.0.1:0', '--pidfile', fgPid), {
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    t.teardown(() => fg.kill('SIGKILL'));
    await waitFor('the foreground daemon', () => {
      try {
        return statSync(fgPid).size > 0;
      } catch {
        return false;
      }
    });
    await new Promise((r) => setTimeout(r, 300));
    const fgr = await run(daemon('restart', '--pidfile', fgPid));
    t.equal(fgr.code, 1, 'under --foreground (a service manager): 1');
    t.match(fgr.err, /runs under a service manager \(--foreground\); restart it there/);
    t.ok(alive(fg.pid!), 'the foreground daemon still runs');
    // SIGUSR2 from anyone but the restart command: logged, nothing else.
    const { pidFile: own, port, pid } = await start(t, dir);
    process.kill(pid, 'SIGUSR2');
    await waitFor('the log line', () =>
      /restart asked \(SIGUSR2\), but the hand-over failed/.test(readFileSync(join(dir, 'log'), 'utf8')),
    );
    t.equal((await get(port)).body, `${greeting}\n`, 'a stray SIGUSR2 changes nothing');
    t.equal(pidIn(own), pid);
    await run(daemon('stop', '--pidfile', own));
    const usage = await run(daemon('restart', '--foreground'));
    t.equal(usage.code, 64, 'restart replaces a forked daemon: no --foreground');
    t.match(usage.err, /"restart" replaces a forked daemon and takes no --foreground/);
  });
}

t.test('single executable: a restart after the file on disk was replaced runs the new file', async (t) => {
  const dir = tempDir(t);
  const exe = join(dir, name);
  copyFileSync(executablePath, exe);
  const pidFile = join(dir, `${name}.pid`);
  const r = await run([exe, '--listen', '127.0.0.1:0', '--pidfile', pidFile, '--log', join(dir, 'log')]);
  t.equal(r.code, 0, r.err);
  const port = portFrom(r.err);
  const old = pidIn(pidFile);
  // A rebuilt executable, different bytes, renamed over the path as dpkg does.
  const next = join(dir, `${name}.dpkg-new`);
  copyFileSync(executablePath, next);
  writeFileSync(next, Buffer.concat([readFileSync(next), Buffer.from('\nnext version\n')]));
  renameSync(next, exe);
  t.equal(readlinkSync(`/proc/${old}/exe`), `${exe} (deleted)`, 'the old daemon runs the replaced file');
  const cannon = load(t, port);
  await new Promise((r) => setTimeout(r, 200));
  const restarted = await run([
    exe,
    'restart',
    '--listen',
    '127.0.0.1:0',
    '--pidfile',
    pidFile,
    '--log',
    join(dir, 'log'),
  ]);
  const result = await cannon.stop();
  t.equal(restarted.code, 0, restarted.err);
  const now = pidIn(pidFile);
  t.not(now, old);
  t.equal(readlinkSync(`/proc/${now}/exe`), exe, 'the successor runs the file now at the path');
  t.equal(statSync(`/proc/${now}/exe`).ino, statSync(exe).ino, 'the new inode, not the deleted one');
  t.equal(result.failed, 0, `0 failed requests (${result.requests.total})`);
  t.equal((await get(port)).body, `${greeting}\n`);
  await run([exe, 'stop', '--pidfile', pidFile]);
});
