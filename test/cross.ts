// The other architectures' builds (package.json forkd.arches; arm64 from this x64 machine): what
// they are made of, and the parts of the protocol the lifecycle suite does not cover, run under
// qemu-user through binfmt_misc: crash reporting over the fork + re-exec, and socket activation in
// both modes. test/lifecycle.ts runs its whole suite on these executables too.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { activate, activatedInForkMode } from './lib/activation';
import { greeting, name } from './lib/identity';
import { foreignExecutables } from './lib/launchers';
import { alive, freePort, get, listenerPids, processesMentioning, root, run, tempDir, waitFor } from './lib/proc';

const arch = require('../scripts/arch') as {
  arches: Record<string, { gnu: string; qemu: string }>;
  addonPath(arch: string): string;
  leanBase(arch: string): { node: string; debug: string; unstripped: string; buildId: string };
  buildId(file: string): string;
};

/** ELF e_machine numbers of the architectures (elf.h). */
const machine: Record<string, number> = { x64: 62, arm64: 183 };
const elfMachine = (file: string) => readFileSync(file).readUInt16LE(18);

const foreign = foreignExecutables();
if (foreign.length === 0)
  t.test('other architectures', { skip: 'package.json forkd.arches names none but the host' }, () => {});

for (const exe of foreign) {
  const env = ['/usr/bin/env', `QEMU_LD_PREFIX=/usr/${arch.arches[exe.arch].gnu}`];

  t.test(`${exe.arch}: made from the pinned node-linux-${exe.arch}, stripped, its symbols apart`, async (t) => {
    const base = arch.leanBase(exe.arch);
    t.equal(elfMachine(exe.path), machine[exe.arch], `out/${exe.arch}/${name} is an ${exe.arch} ELF executable`);
    t.equal(elfMachine(arch.addonPath(exe.arch)), machine[exe.arch], 'and so is its addon');
    t.equal(arch.buildId(exe.path), base.buildId, "the base's build-id");
    t.equal(arch.buildId(`${exe.path}.debug`), base.buildId, 'the debug file beside it has the same build-id');
    t.ok(statSync(exe.path).size < statSync(base.unstripped).size, 'smaller than the unstripped base');
    t.ok(statSync(exe.path).size > statSync(base.node).size, 'larger than the stripped base: the blob is in');
    t.ok(readFileSync(exe.path).includes('NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2:1'), 'SEA fuse set');
    const v = await run([...exe.cmd, '--version'], { timeoutMs: 60_000 });
    t.equal(v.code, 0, v.err);
    t.match(v.stdout, new RegExp(`^${name} \\d+\\.\\d+\\.\\d+`), 'runs under qemu');
  });

  t.test(`${exe.arch} under qemu: crashes during start-up are reported through the re-exec`, async (t) => {
    const dir = tempDir(t);
    const fixture = join(dir, 'fixture');
    const built = await run(
      [
        process.execPath,
        join(root, 'scripts', 'build-executable.js'),
        fixture,
        '--entry',
        join(root, 'test', 'fixtures', 'startup.js'),
        '--arch',
        exe.arch,
      ],
      { timeoutMs: 300_000 },
    );
    t.equal(built.code, 0, `the start-up fixture built for ${exe.arch} ${built.err}`);
    // qemu-user writes the core of a crashed guest itself, into the daemon's cwd (/): none here.
    // After ready, output goes nowhere (test/syslog.ts covers the default log target).
    const start = (mode: string, arg: string, extra: NodeJS.ProcessEnv = {}) =>
      run(['prlimit', '--core=0', '--', ...env, fixture, mode, arg, dir], {
        env: { FIXTURE_LOG: 'none', ...extra },
        timeoutMs: 120_000,
      });

    const ready = await start('ready', '-');
    t.equal(ready.code, 0, ready.err);
    t.equal(ready.err, 'fixture: marker inherited by children: false\n', 'ready, and the marker not passed on');

    const exit = await start('exit', '3');
    t.equal(exit.code, 3);
    t.equal(exit.err, 'fixture: giving up with code 3\nfixture: exited with code 3 during start-up\n');

    for (const signal of ['SIGSEGV', 'SIGKILL']) {
      const r = await start('signal', signal);
      t.equal(r.code, 70, `killed by ${signal}: exit 70`);
      t.match(r.err, `fixture: killed by ${signal}`, 'said by name');
    }

    const pidFile = join(dir, 'pid');
    const r = await start('helper-then-die', 'SIGABRT', { FIXTURE_PIDFILE: pidFile });
    t.equal(r.code, 70, r.err);
    t.match(r.err, `fixture: removed ${pidFile}, left by the daemon (pid `, 'the stale pid file removed');
    const helper = Number(/fixture: helper (\d+) started/.exec(r.err)?.[1]);
    await waitFor('the helper gone', () => !alive(helper), 10_000).catch(() => undefined);
    t.notOk(alive(helper), 'the helper in its process group is gone');
    t.same(processesMentioning(dir), [], 'no process left');
  });

  t.test(`${exe.arch} under qemu: socket activation, fork + re-exec`, (t) => activatedInForkMode(t, exe.cmd));

  t.test(`${exe.arch} under qemu: socket activation, --foreground`, async (t) => {
    const port = await freePort();
    const { activator, said, exited } = await activate(t, port, [
      ...exe.cmd,
      '--foreground',
      '--listen',
      '127.0.0.1:1',
    ]);
    const res = await get(port);
    t.equal(res.status, 200);
    t.equal(res.body, `${greeting}\n`);
    t.match(said(), `${name}: listening on http://127.0.0.1:${port} (socket activation: fd 3, `);
    t.same(listenerPids(port), [activator.pid], 'the activator, exec into the daemon, holds the socket');
    activator.kill('SIGTERM');
    t.equal(await exited, 0, 'stopped cleanly');
  });
}
