// The other architectures' builds (package.json forkd.arches; arm64 from this x64 machine): what
// they are made of, and the parts of the protocol the lifecycle suite does not cover, run under
// qemu-user through binfmt_misc: crash reporting over the fork + re-exec, and socket activation in
// both modes. test/lifecycle.ts runs its whole suite on these executables too. Then the .deb of
// each on a Debian of that architecture booted with systemd, everything in it under qemu-user.
// And npm ci: it brings their pinned Node, so that the build needs no network after it.
import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import t from 'tap';
import { activate, activatedInForkMode } from './lib/activation';
import { Container, unavailable } from './lib/container';
import { greeting, name, pkg } from './lib/identity';
import { foreignExecutables } from './lib/launchers';
import { packages } from './lib/packages';
import { alive, freePort, get, listenerPids, processesMentioning, root, run, tempDir, waitFor } from './lib/proc';

const arch = require('../scripts/arch') as {
  arches: Record<string, { gnu: string; qemu: string; deb: string; cpu: string }>;
  hostArch: string;
  basePackage(arch: string): { name: string; version: string };
  addonPath(arch: string): string;
  leanBase(arch: string): { node: string; debug: string; unstripped: string; buildId: string };
  buildId(file: string): string;
};

/** ELF e_machine numbers of the architectures (elf.h). */
const machine: Record<string, number> = { x64: 62, arm64: 183 };
const elfMachine = (file: string) => readFileSync(file).readUInt16LE(18);

// The packages may have to be built, and a container booted under emulation.
t.setTimeout(20 * 60_000);

const foreign = foreignExecutables();
const noForeign = foreign.length === 0 && 'package.json forkd.arches names none but the host';

interface ProjectPackage {
  forkd: { arches: string[] };
  nodeBases?: Record<string, string>;
}

/**
 * A copy of the project's package files and scripts/ in a temporary directory, its package.json
 * changed by edit: the bases' fetch (scripts/bases.js) writes into its node_modules, not ours.
 */
function projectCopy(t: Parameters<typeof tempDir>[0], edit: (pkg: ProjectPackage) => void = () => {}) {
  const dir = tempDir(t);
  for (const f of ['package.json', 'package-lock.json', 'scripts'])
    cpSync(join(root, f), join(dir, f), { recursive: true });
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  edit(pkg);
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  return dir;
}
const cached = (dir: string) =>
  existsSync(join(dir, 'node_modules', '.cache', 'forkd'))
    ? readdirSync(join(dir, 'node_modules', '.cache', 'forkd'))
    : [];
const bases = (dir: string, env: NodeJS.ProcessEnv = {}) =>
  run(['unshare', '-n', process.execPath, join(dir, 'scripts', 'bases.js')], {
    cwd: dir,
    env: { npm_command: '', ...env },
    timeoutMs: 120_000,
  });

t.test('a project of the host architecture alone fetches no other Node', async (t) => {
  const dir = projectCopy(t, (pkg) => (pkg.forkd.arches = [arch.hostArch]));
  const r = await bases(dir, { npm_command: 'ci' });
  t.equal(r.code, 0, r.err);
  t.equal(r.stdout + r.err, '', 'says nothing');
  t.same(cached(dir), [], 'fetched nothing');
});

t.test(
  'the pinned sha512 is checked: another hash, or none, is refused in one line',
  { skip: noForeign },
  async (t) => {
    const { name: base, version } = arch.basePackage(foreign[0].arch);
    const wrong = projectCopy(t, (pkg) => {
      const pin = pkg.nodeBases![`${base}@${version}`];
      pkg.nodeBases![`${base}@${version}`] = `sha512-${pin.slice(7, 9) === 'AA' ? 'BB' : 'AA'}${pin.slice(9)}`;
    });
    // Offline: the tarball comes from the npm cache, as after the CI's npm ci.
    const r = await bases(wrong);
    t.equal(r.code, 65, 'exit 65 (EX_DATAERR)');
    t.match(
      r.err,
      new RegExp(
        `^bases: ${base}@${version} from the registry has sha512-\\S+, but package\\.json "nodeBases" pins sha512-`,
      ),
    );
    t.equal(r.err.trim().split('\n').length, 1, 'one line');
    t.same(cached(wrong), [], 'nothing left behind, not even a partial copy');

    const unpinned = projectCopy(t, (pkg) => delete pkg.nodeBases);
    const u = await bases(unpinned);
    t.equal(u.code, 78, 'none pinned: exit 78 (EX_CONFIG)');
    t.match(u.err, `bases: package.json "nodeBases" pins no hash for ${base}@${version}; add`);
    t.same(cached(unpinned), []);

    const nowhere = projectCopy(t);
    // No retries: npm's would wait a minute for the network that unshare -n took away.
    const n = await bases(nowhere, {
      npm_config_cache: join(nowhere, 'empty-npm-cache'),
      npm_config_fetch_retries: '0',
    });
    t.equal(n.code, 69, 'neither the registry nor the npm cache: exit 69 (EX_UNAVAILABLE)');
    t.match(
      n.err,
      new RegExp(
        `^bases: npm pack ${base}@${version} failed \\(the npm registry, or the npm cache offline\\): request to \\S+ failed`,
      ),
    );
    t.equal(n.err.trim().split('\n').length, 1, 'one line');
    t.same(cached(nowhere), []);

    const packing = await bases(nowhere, { npm_command: 'pack' });
    t.equal(packing.code, 0, 'npm pack runs "prepare" too: nothing to do then');
    t.same(cached(nowhere), []);
  },
);

t.test(
  "npm ci brings the other architectures' Node: the build needs no network after it",
  { skip: noForeign },
  async (t) => {
    const dir = projectCopy(t);
    // The real npm ci and its "prepare", with the runtime dependencies only (the development ones
    // are the x64 side, which test/executable.ts builds offline), from the npm cache offline.
    const ci = await run(['unshare', '-n', 'npm', 'ci', '--offline', '--omit=dev', '--no-audit', '--no-fund'], {
      cwd: dir,
      timeoutMs: 300_000,
    });
    t.equal(ci.code, 0, ci.stdout + ci.err);
    for (const exe of foreign) {
      const { name: base, version } = arch.basePackage(exe.arch);
      t.match(ci.stdout, `bases: ${base}@${version} fetched, its sha512 as pinned`, `npm ci fetched ${base}`);
      const node = join(dir, 'node_modules', '.cache', 'forkd', `${base}-${version}`, 'bin', 'node');
      t.ok(existsSync(node) && elfMachine(node) === machine[exe.arch], `${base}'s bin/node is an ${exe.arch} ELF file`);
    }
  },
);

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

  t.test(
    `${exe.arch}: the .deb on a booted ${arch.arches[exe.arch].deb} Debian, systemd and all under qemu-user`,
    { skip: unavailable() },
    async (t) => {
      const started = Date.now();
      const deb = (await packages(t)).byArch[exe.arch].deb;
      const guest = '/var/tmp/forkd';
      const booting = Date.now();
      const c = await Container.boot(t, 'bookworm', {
        debArch: arch.arches[exe.arch].deb,
        binds: { [dirname(deb)]: guest },
      });
      const bootSeconds = Math.round((Date.now() - booting) / 1000);
      t.teardown(async () => {
        if (!t.passing()) t.comment(`journal:\n${await c.journal(80)}`);
      });
      const q = async (script: string) => (await c.sh(script, { timeoutMs: 300_000 })).trim();
      const mainPid = () => q(`systemctl show -P MainPID ${name}.service`);
      const reloads = async () =>
        Number(await q(`journalctl -b -u ${name}.service -o cat | grep -c '^reloaded$' || true`));
      t.equal(await q('dpkg --print-architecture'), arch.arches[exe.arch].deb, 'the container is that Debian');
      t.equal(await q('uname -m'), arch.arches[exe.arch].cpu, 'its programs run as that CPU (qemu-user)');
      t.equal(await q('ps -o comm= -p 1'), 'systemd', 'systemd is PID 1');

      const install = await c.try(`dpkg -i ${guest}/${basename(deb)}`, { timeoutMs: 300_000 });
      t.equal(install.code, 0, `dpkg -i ${basename(deb)}: ${install.err}`);
      t.notMatch(install.stdout + install.err, /error|could not|failed/i, 'dpkg -i says nothing went wrong');
      t.equal(
        await q(`systemctl show -P ActiveState,SubState ${name}.service | paste -sd/`),
        'active/running',
        'active (running) after dpkg -i',
      );
      const pid = await mainPid();
      t.equal(await q(`pgrep -x ${name}`), pid, `the main process is ${name}`);
      const listen = pkg.forkd.listen;
      if (listen)
        t.equal(
          await q(`curl -sS --max-time 30 --retry 20 --retry-connrefused --retry-delay 1 http://${listen}/`),
          greeting,
          `serves on ${listen} over loopback`,
        );

      const reloaded = await reloads();
      await c.sh(`systemctl reload ${name}.service`, { timeoutMs: 300_000 });
      t.equal(await reloads(), reloaded + 1, 'systemctl reload: the daemon re-read its config (the journal says so)');
      t.equal(await mainPid(), pid, 'with the same pid');
      if (listen) t.equal(await q(`curl -sS --max-time 30 http://${listen}/`), greeting, 'and serves on');

      await c.sh(`systemctl stop ${name}.service`, { timeoutMs: 300_000 });
      t.equal(
        await q(`systemctl show -P Result,ExecMainStatus,ActiveState ${name}.service | paste -sd/`),
        'success/0/inactive',
        'systemctl stop: clean exit 0',
      );
      t.equal(await q(`pgrep -x ${name} || echo none`), 'none', 'no process left');
      t.comment(
        `${exe.arch} container: booted in ${bootSeconds} s; the whole test ${Math.round((Date.now() - started) / 1000)} s`,
      );
    },
  );

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
