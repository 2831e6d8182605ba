// The new-style daemon (daemon(7)): notifications, socket activation, journal levels, privilege
// drop, against the runtime's test daemon. Real peers: a datagram socket, systemd-socket-activate,
// setpriv. (Stop and reload under load are the sample server's: test/server/http.ts.)
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import t from 'tap';
import { activatedInForkMode } from './lib/activation';
import { greeting, name } from './lib/identity';
import { launchers, singleExecutable } from './lib/launchers';
import {
  freePort,
  get,
  listenerPids,
  listeningFds,
  portFrom,
  root,
  run,
  spawnClean,
  tempDir,
  waitFor,
} from './lib/proc';

const isRoot = process.getuid!() === 0;

/** A datagram socket standing in for systemd's NOTIFY_SOCKET; collects what it receives. */
async function notifyReceiver(t: { teardown(fn: () => void): void }, path: string): Promise<{ messages: string[] }> {
  const proc = spawnClean(['python3', join(root, 'test', 'fixtures', 'notify-receiver.py'), path], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => proc.kill('SIGKILL'));
  const messages: string[] = [];
  let bound = false;
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    const j = JSON.parse(line) as { bound?: string; message?: string };
    if (j.bound) bound = true;
    if (j.message !== undefined) messages.push(j.message);
  });
  await waitFor('the receiver to bind', () => bound);
  return { messages };
}

/** Starts argv in the foreground, collecting stderr; resolves with exit code and signal. */
function foreground(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const child: ChildProcess = spawnClean(argv, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const out = { err: '' };
  child.stderr!.on('data', (b: Buffer) => (out.err += b.toString()));
  const exited = new Promise<[number | null, string | null]>((r) => child.on('close', (c, s) => r([c, s])));
  return { child, out, exited };
}

for (const launcher of launchers()) {
  for (const kind of ['path', 'abstract'] as const) {
    t.test(`${launcher.name}: sd_notify over a ${kind} socket: READY, WATCHDOG, RELOADING, STOPPING`, async (t) => {
      const dir = tempDir(t);
      const socket = kind === 'path' ? join(dir, 'notify') : `@forkd-test-${process.pid}-${launcher.name.length}`;
      const rx = await notifyReceiver(t, socket);
      const { child, out, exited } = foreground([...launcher.cmd, '-f', '--listen', '127.0.0.1:0'], {
        NOTIFY_SOCKET: socket,
        WATCHDOG_USEC: '200000',
      });
      await waitFor('READY=1', () => rx.messages.some((m) => m.split('\n').includes('READY=1')));
      // READY=1 means it listens: one request, no retry.
      t.equal((await get(portFrom(out.err))).status, 200, 'serving when READY=1 arrives');
      t.match(rx.messages[0], /^READY=1\nSTATUS=serving 1 socket\(s\)$/);
      await waitFor('two watchdog pings', () => rx.messages.filter((m) => m === 'WATCHDOG=1').length >= 2, 3000);

      const before = rx.messages.length;
      child.kill('SIGHUP');
      await waitFor('READY=1 after the reload', () => rx.messages.slice(before).some((m) => m === 'READY=1'));
      const reload = rx.messages.slice(before).filter((m) => m !== 'WATCHDOG=1');
      t.match(reload[0], /^RELOADING=1\nMONOTONIC_USEC=\d+$/, 'RELOADING=1 with MONOTONIC_USEC');
      const usec = BigInt(/MONOTONIC_USEC=(\d+)/.exec(reload[0])![1]);
      const nowUsec = process.hrtime.bigint() / 1000n;
      t.ok(nowUsec - usec >= 0n && nowUsec - usec < 5_000_000n, 'MONOTONIC_USEC is CLOCK_MONOTONIC, now');
      t.equal(reload[1], 'READY=1', 'then READY=1');

      child.kill('SIGTERM');
      const [code] = await exited;
      t.equal(code, 0);
      t.ok(rx.messages.includes('STOPPING=1'), 'STOPPING=1 on SIGTERM');
    });
  }

  t.test(`${launcher.name}: without NOTIFY_SOCKET, notifications are a no-op`, async (t) => {
    const { child, out, exited } = foreground([...launcher.cmd, '-f', '--listen', '127.0.0.1:0'], {
      WATCHDOG_USEC: '100000',
    });
    await waitFor('listening', () => out.err.includes('ready'));
    child.kill('SIGTERM');
    t.same(await exited, [0, null]);
    t.notMatch(out.err, /error|warning/);
  });
}

t.test('socket activation: serves on the passed socket and binds none of its own', async (t) => {
  const port = await freePort();
  const { child, out, exited } = foreground([
    'systemd-socket-activate',
    '-l',
    `127.0.0.1:${port}`,
    '--fdname=web',
    ...singleExecutable.cmd,
    '--foreground',
    '--listen',
    '127.0.0.1:1',
  ]);
  await waitFor('the activator', () => out.err.includes('Listening on'));
  // systemd-socket-activate execs the daemon (same pid) on the first connection.
  const res = await get(port);
  t.equal(res.status, 200);
  t.equal(res.body, `${greeting}\n`);
  t.match(out.err, `${name}: listening on http://127.0.0.1:${port} (socket activation: fd 3, web)`);
  t.match(
    out.err,
    `${name}: warning: --listen 127.0.0.1:1 ignored: serving on the sockets passed by the service manager`,
  );
  t.same(listenerPids(port), [child.pid], "the daemon (the activator, exec'd) holds the listening socket");
  t.same(listeningFds(child.pid!), [3], 'its only listening socket is fd 3, the one it was passed');
  const environ = readFileSync(`/proc/${child.pid}/environ`, 'utf8');
  t.match(environ, /LISTEN_FDS=1/, 'started with LISTEN_FDS');
  child.kill('SIGTERM');
  t.same(await exited, [0, null]);
});

// The file-descriptor store, as systemd passes it back after a restart: a socket named "stored"
// (systemd-socket-activate --fdname), FDSTORE set as the packaged unit sets it.
for (const bindsItself of [false, true])
  t.test(
    bindsItself
      ? 'fd store: a server that binds its own gets the kept socket closed first, and its bind succeeds'
      : 'fd store: the kept socket is taken out of the store, served, and stored again before READY=1',
    async (t) => {
      const dir = tempDir(t);
      const socket = join(dir, 'notify');
      const rx = await notifyReceiver(t, socket);
      const port = await freePort();
      const env = { NOTIFY_SOCKET: socket, FDSTORE: '16', ...(bindsItself ? { FIXTURE_BINDS_ITSELF: '1' } : {}) };
      const { child, out, exited } = foreground([
        'systemd-socket-activate',
        '-l',
        `127.0.0.1:${port}`,
        '--fdname=stored',
        ...Object.entries(env).map(([k, v]) => `-E${k}=${v}`),
        ...singleExecutable.cmd,
        '--foreground',
        '--listen',
        `127.0.0.1:${port}`,
      ]);
      await waitFor('the activator', () => out.err.includes('Listening on'));
      // The first connection makes the activator exec the daemon (same pid).
      await get(port).catch(() => undefined);
      await waitFor('READY=1', () => rx.messages.some((m) => m.split('\n').includes('READY=1')));
      const fdMessages = rx.messages.filter((m) => /FDSTORE/.test(m));
      t.same(fdMessages[0], 'FDSTOREREMOVE=1\nFDNAME=stored', 'first, the kept socket out of the store');
      const ready = rx.messages.findIndex((m) => m.split('\n').includes('READY=1'));
      if (bindsItself) {
        t.equal(fdMessages.length, 1, 'and nothing stored');
        t.match(out.err, 'listening sockets not kept across restarts: the server does not declare servesListenFds');
        t.notOk(listeningFds(child.pid!).includes(3), 'the kept socket (fd 3) was closed');
      } else {
        t.same(fdMessages[1], 'FDSTORE=1\nFDNAME=stored', 'then the socket it serves, stored again');
        t.ok(rx.messages.indexOf(fdMessages[1]) < ready, 'before READY=1');
        t.same(listeningFds(child.pid!), [3], 'it serves on the kept socket, fd 3');
      }
      t.equal((await get(port)).status, 200, `serving on ${port}`);
      child.kill('SIGTERM');
      t.same(await exited, [0, null]);
    },
  );

for (const launcher of launchers())
  t.test(`${launcher.name}: socket activation in fork mode: the socket reaches the re-executed daemon`, (t) =>
    activatedInForkMode(t, launcher.cmd),
  );

t.test('journal: with JOURNAL_STREAM naming stderr, lines carry <N> priority prefixes', async (t) => {
  const dir = tempDir(t);
  const errFile = join(dir, 'stderr');
  const fd = openSync(errFile, 'w');
  t.teardown(() => closeSync(fd));
  const st = statSync(errFile);
  const config = join(dir, 'c.toml');
  writeFileSync(config, 'greting = "typo"\n');
  const env = { JOURNAL_STREAM: `${st.dev}:${st.ino}` };
  const bad = spawnClean([...singleExecutable.cmd, '-f', '-c', config], { env, stdio: ['ignore', 'ignore', fd] });
  const code = await new Promise((r) => bad.on('close', r));
  t.equal(code, 78);
  t.match(readFileSync(errFile, 'utf8'), /^<3>config .*: unknown setting "greting"/m, 'error: <3>');

  writeFileSync(config, 'listen = "127.0.0.1:0"\n');
  const good = spawnClean([...singleExecutable.cmd, '-f', '-c', config], { env, stdio: ['ignore', 'ignore', fd] });
  await waitFor('ready', () => readFileSync(errFile, 'utf8').includes('ready'));
  good.kill('SIGTERM');
  await new Promise((r) => good.on('close', r));
  const text = readFileSync(errFile, 'utf8');
  t.match(text, /^<6>listening on http:\/\/127\.0\.0\.1:\d+$/m, 'info: <6>');
  t.match(text, /^<6>stopped$/m);

  const plain = await run([...singleExecutable.cmd, '-f', '-c', join(dir, 'missing.toml')], {
    env: { JOURNAL_STREAM: '1:1' },
  });
  t.match(plain.err, new RegExp(`^${name}: config `), 'stderr that is not the journal: plain lines');
});

t.test(
  '--user: binds a port below 1024 as root, then runs as the user with no root group',
  { skip: !isRoot && 'needs root' },
  async (t) => {
    const dir = tempDir(t);
    let port = 0;
    for (let p = 900; p < 1024 && !port; p++) {
      try {
        const s = createNetServer();
        await new Promise<void>((ok, no) => s.once('error', no).listen(p, '127.0.0.1', ok));
        await new Promise<void>((r) => s.close(() => r()));
        port = p;
      } catch {
        // taken
      }
    }
    // Port 0 would pick an unprivileged port and prove nothing: fail rather than pass vacuously.
    if (!port) return t.fail('ports 900-1023 are all taken on 127.0.0.1; free one to run this test');
    const r = await run([
      ...singleExecutable.cmd,
      '--user',
      'nobody',
      '--listen',
      `127.0.0.1:${port}`,
      '-p',
      join(dir, 'pid'),
      '--log',
      join(dir, 'log'),
    ]);
    t.equal(r.code, 0, r.err);
    const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    t.match(status, /^Uid:\t65534\t65534\t65534\t65534$/m, 'real, effective, saved and fs uid: nobody');
    t.match(status, /^Gid:\t65534\t65534\t65534\t65534$/m, 'and gid');
    const groups = /^Groups:\t(.*)$/m.exec(status)![1].trim().split(/\s+/).filter(Boolean);
    t.notOk(groups.includes('0'), `no root group (groups: ${groups.join(' ') || 'none'})`);
    t.match(status, /^CapEff:\t0+$/m, 'no capabilities left');
    t.equal((await get(port)).status, 200, `port ${port} still served`);
    t.match(r.err, new RegExp(`^${name}: running as nobody \\(uid 65534, gid 65534\\)$`, 'm'), 'said at start-up');
    process.kill(pid, 'SIGHUP');
    await waitFor('reload as nobody', () => readFileSync(join(dir, 'log'), 'utf8').includes('reloaded'));
    t.equal((await run([...singleExecutable.cmd, 'stop', '-p', join(dir, 'pid')])).code, 0);
  },
);

t.test('--user with an unknown user: one line, exit 67, nothing started', async (t) => {
  const dir = tempDir(t);
  const r = await run([
    ...singleExecutable.cmd,
    '--user',
    'no-such-user-forkd',
    '--listen',
    '127.0.0.1:0',
    '-p',
    join(dir, 'pid'),
  ]);
  t.equal(r.code, 67);
  t.match(
    r.err,
    new RegExp(`^${name}: unknown user "no-such-user-forkd" \\(.*\\); create it or choose another --user$`, 'm'),
  );
  const g = await run([
    ...singleExecutable.cmd,
    '--user',
    'nobody',
    '--group',
    'no-such-group-forkd',
    '-f',
    '--listen',
    '127.0.0.1:0',
  ]);
  t.equal(g.code, 67);
  t.match(g.err, 'unknown group "no-such-group-forkd"');
  const u = await run([...singleExecutable.cmd, '--group', 'nogroup', '-f']);
  t.equal(u.code, 64, '--group alone is a usage error');
});
