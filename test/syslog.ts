// A crash after ready is never silent: forked with no --log, the daemon's stdout and stderr go to
// syslog through /dev/log (native/syslog_relay.c), where a booted Debian's journal reads them.
// Where no syslog answers, the start says so; --log syslog then fails it, --log none is quiet.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Container, unavailable } from './lib/container';
import { launchers } from './lib/launchers';
import { root, run, tempDir } from './lib/proc';

const fixture = join(root, 'test', 'fixtures', 'startup.js');
const guest = '/var/tmp/forkd';

t.test('where /dev/log does not answer', { skip: existsSync('/dev/log') && 'this machine has /dev/log' }, async (t) => {
  const dir = tempDir(t);
  const start = (log?: string) =>
    run([process.execPath, fixture, 'ready'], {
      env: { ...process.env, FIXTURE_PIDFILE: join(dir, 'pid'), ...(log ? { FIXTURE_LOG: log } : {}) },
    });
  const stop = () => run(['sh', '-c', `kill $(cat ${join(dir, 'pid')}) 2>/dev/null; true`]);
  t.teardown(stop);

  const byDefault = await start();
  t.equal(byDefault.code, 0, 'the default still starts');
  t.match(
    byDefault.err,
    /^fixture: warning: \/dev\/log does not answer \([^)]*\): output after ready is discarded; pass --log FILE to keep it, or --log none\n$/m,
    'and says, on the starting terminal, that what follows is discarded',
  );
  await stop();

  const quiet = await start('none');
  t.equal(quiet.code, 0);
  t.equal(quiet.err.includes('/dev/log'), false, 'log "none" (--log none): no warning');
  await stop();

  // The command line's --log syslog insists: a start that cannot keep its promise fails.
  for (const l of launchers()) {
    const pidFile = join(dir, `${l.name}.pid`);
    const r = await run([...l.cmd, '--log', 'syslog', '--listen', '127.0.0.1:0', '--pidfile', pidFile]);
    t.equal(r.code, 69, `${l.name}: --log syslog without syslog exits 69`);
    t.match(
      r.err,
      /: --log syslog: \/dev\/log does not answer \([^)]*\); start a syslog daemon or choose another --log\n/,
    );
    t.notOk(existsSync(pidFile), `${l.name}: no pid file left`);
  }
});

t.test('the journal of a booted Debian gets the output and the crash', { skip: unavailable() }, async (t) => {
  const dir = tempDir(t);
  const exe = join(dir, 'fixture');
  const built = await run([process.execPath, join(root, 'scripts', 'build-executable.js'), exe, '--entry', fixture], {
    timeoutMs: 300_000,
  });
  t.equal(built.code, 0, `the fixture built as a single executable ${built.err}`);
  const c = await Container.boot(t, 'bookworm', { binds: { [dir]: guest } });
  const q = async (script: string) => (await c.sh(script)).trim();

  // Forked from a shell, as a person or a SysV script starts it: no service manager around it.
  const started = await c.try(`TMPDIR=/var/tmp ${guest}/fixture crash-after-ready 300`, {
    env: { FIXTURE_PIDFILE: '/run/fixture.pid' },
  });
  t.equal(started.code, 0, `started: ${started.err}`);
  t.equal(started.err, '', 'nothing on the terminal but the start-up (syslog answers here)');
  const pid = Number(await q('cat /run/fixture.pid'));
  t.ok(pid > 1, `the daemon's pid, ${pid}`);
  await c.sh(`for i in $(seq 100); do kill -0 ${pid} 2>/dev/null || exit 0; sleep 0.1; done; exit 1`);
  t.equal(await q('pgrep -x fixture-log || echo none'), 'none', 'the relay ended with the daemon');

  type Entry = { MESSAGE: string; PRIORITY: string; SYSLOG_PID: string; SYSLOG_FACILITY: string };
  let entries: Entry[] = [];
  for (let i = 0; i < 50 && !entries.some((e) => /crash after ready/.test(e.MESSAGE)); i++) {
    const out = await q('journalctl -q -t fixture -o json --no-pager || true');
    entries = out
      ? out
          .split('\n')
          .map((l) => JSON.parse(l) as Entry)
          .filter((e) => e.SYSLOG_PID === String(pid))
      : [];
    if (!entries.some((e) => /crash after ready/.test(e.MESSAGE))) await new Promise((r) => setTimeout(r, 200));
  }
  const find = (text: string | RegExp) =>
    entries.find((e) => (typeof text === 'string' ? e.MESSAGE === text : text.test(e.MESSAGE)));
  const want: [string | RegExp, string, string][] = [
    [`ready (pid ${pid})`, '6', "the runtime's own line, at its level"],
    [`fixture stdout after ready (pid ${pid})`, '6', 'stdout: info'],
    ['fixture warning after ready', '4', 'a "<4>" prefix: warning'],
    ['fixture stderr after ready', '3', 'stderr: err'],
    [/crash after ready/, '3', 'the crash'],
  ];
  for (const [text, priority, what] of want) {
    const e = find(text);
    t.ok(e, `${what}: in the journal as "fixture[${pid}]"`);
    if (e) t.same([e.PRIORITY, e.SYSLOG_FACILITY], [priority, '3'], `${what}: priority ${priority}, facility daemon`);
  }
  if (!t.passing()) t.comment(JSON.stringify(entries.map((e) => [e.PRIORITY, e.MESSAGE])));
});
