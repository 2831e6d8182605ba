// Restarts and upgrades of the installed packages under load, on Debian 12 and 13 booted with
// systemd as PID 1 (test/lib/container.ts): no connection refused. Under systemd the listening
// socket waits in the unit's file-descriptor store across systemctl restart, a package upgrade
// and a crash; with the SysV init script, `restart` (and so an upgrade's try-restart) hands the
// socket to the successor (`NAME restart`). The load runs inside the container's network
// namespace (test/fixtures/load.js through nsenter): autocannon, 50 keep-alive connections, every
// error, timeout, reset and non-2xx answer counted over each step's whole window.
import { spawn } from 'node:child_process';
import { basename, join } from 'node:path';
import t, { type Test } from 'tap';
import { Container, type Suite, suites, unavailable } from './lib/container';
import { name, pkg, version } from './lib/identity';
import { packages, versionPackages } from './lib/packages';
import { root } from './lib/proc';

const next = version.replace(/(\d+)$/, (n) => String(Number(n) + 1));
const listen = pkg.forkd.listen;
const pidFile = pkg.forkd.pidfile;
const config = pkg.forkd.config;
const guest = '/var/tmp/forkd';
const unit = `${name}.service`;

interface LoadResult {
  requests: number;
  failed: number;
  non2xx: number;
  errors: Record<string, number>;
  p99: number;
  max: number;
}

/** The load, started in the container's network namespace; stop() returns its figures. */
function load(t: Test, c: Container) {
  const child = spawn(
    'nsenter',
    [
      '-t',
      String(c.init),
      '-n',
      process.execPath,
      join(root, 'test', 'fixtures', 'load.js'),
      `http://${listen}/`,
      '50',
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const closed = new Promise<void>((r) => child.on('close', () => r()));
  return {
    stop: async (): Promise<LoadResult> => {
      child.stdin!.end();
      await closed;
      return JSON.parse(out) as LoadResult;
    },
  };
}

const figures = (r: LoadResult) =>
  `${r.requests} requests, ${r.failed} failed ${JSON.stringify(r.errors)}, latency p99 ${r.p99} ms, max ${r.max} ms`;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Three containers boot, and the packages may have to be built first.
t.setTimeout(20 * 60_000);

t.test(
  'restarts and upgrades under load refuse no connection',
  { skip: unavailable() ?? (listen ? false : 'the daemon does not listen (forkd.listen)') },
  async (t) => {
    // The packages as test/packaging.ts checks them, and the next version's, each set built once
    // (test/lib/packages.ts).
    const [built, nextSet] = await Promise.all([packages(t), versionPackages(t, next)]);
    const deb = join(guest, basename(built.deb));
    const rpm = join(guest, basename(built.rpm));
    const debNext = join(`${guest}-next`, basename(nextSet.deb));
    const rpmNext = join(`${guest}-next`, basename(nextSet.rpm));
    const nextDir = nextSet.dir;
    const boot = (t: Test, suite: Suite) =>
      Container.boot(t, suite, { binds: { [built.dir]: guest, [nextDir]: `${guest}-next` } });

    /** What every step must leave: one process, the pid file naming it, the same socket. */
    async function healthy(t: Test, c: Container, pid: string, socket: string, what: string) {
      const q = async (script: string) => (await c.sh(script)).trim();
      t.equal(await q(`cat ${pidFile}`), pid, `${what}: the pid file names the daemon (${pid})`);
      t.equal(await q(`pgrep -x ${name} | paste -sd,`), pid, `${what}: no other ${name} process`);
      t.equal(await listener(c), socket, `${what}: the same listening socket (${socket})`);
    }
    /** The inode of the socket listening on port (forkd.listen's by default), in the container. */
    async function listenerOn(c: Container, port: number) {
      return (await c.sh(`ss -Hltne 'sport = :${port}' | grep -o 'ino:[0-9]*' | sort -u | paste -sd,`)).trim();
    }
    const listener = (c: Container) => listenerOn(c, Number(listen!.slice(listen!.lastIndexOf(':') + 1)));

    for (const suite of Object.keys(suites) as Suite[]) {
      t.test(`${suite} (systemd ${suites[suite]}): the .deb under systemd`, async (t) => {
        const c = await boot(t, suite);
        t.teardown(async () => {
          if (!t.passing()) t.comment(`${suite} journal:\n${await c.journal(60)}`);
        });
        const q = async (script: string) => (await c.sh(script)).trim();
        const mainPid = () => q(`systemctl show -P MainPID ${unit}`);
        /** Waits until the unit is active under a main pid other than old; returns it. */
        const newMain = async (old: string) =>
          q(
            `for i in $(seq 300); do p=$(systemctl show -P MainPID ${unit}); [ "$p" != 0 ] && [ "$p" != ${old} ] && [ "$(systemctl is-active ${unit})" = active ] && { echo $p; exit 0; }; sleep 0.05; done; exit 1`,
          );
        await c.sh(`dpkg -i ${deb} >/dev/null`);
        t.equal(await q(`systemctl is-active ${unit}`), 'active', 'installed and active');
        t.equal(
          await q(`systemctl show -P NFileDescriptorStore ${unit}`),
          '1',
          'the listening socket is in the file-descriptor store',
        );
        const socket = await listener(c);
        let pid = await mainPid();
        await healthy(t, c, pid, socket, 'installed');

        // systemd refuses a sixth start within 10 s (StartLimitBurst=5, StartLimitIntervalSec=10s),
        // and these steps come faster than on any host: each starts with a clean count.
        const resetCount = () => c.sh(`systemctl reset-failed ${unit}`);
        await t.test('systemctl restart ×3', async (t) => {
          await resetCount();
          const l = load(t, c);
          await pause(500);
          for (let i = 1; i <= 3; i++) {
            await c.sh(`systemctl restart ${unit}`);
            const now = await newMain(pid);
            t.not(now, pid, `restart ${i}: a new main process`);
            pid = now;
            await healthy(t, c, pid, socket, `restart ${i}`);
          }
          await pause(500);
          const r = await l.stop();
          t.comment(`${suite}, systemctl restart ×3: ${figures(r)}`);
          t.ok(r.requests > 500, 'the load ran all along');
          t.equal(r.failed, 0, '0 failed requests over the whole window');
        });

        await t.test(`dpkg -i of ${next} (the upgrade's try-restart)`, async (t) => {
          await resetCount();
          const l = load(t, c);
          await pause(500);
          await c.sh(`dpkg -i ${debNext} >/dev/null`);
          pid = await newMain(pid);
          await pause(500);
          const r = await l.stop();
          t.comment(`${suite}, package upgrade: ${figures(r)}`);
          t.equal(r.failed, 0, '0 failed requests over the whole window');
          t.equal(await q(`dpkg-query -W -f '\${Version}' ${name}`), next, `${next} installed`);
          t.equal(await q(`readlink /proc/${pid}/exe`), `/usr/sbin/${name}`, 'the new executable runs');
          await healthy(t, c, pid, socket, 'upgraded');
        });

        await t.test('SIGKILL: systemd restarts it on the kept socket', async (t) => {
          await resetCount();
          const restarts = Number(await q(`systemctl show -P NRestarts ${unit}`));
          const l = load(t, c);
          await pause(500);
          // A connection made while no process serves waits in the kept socket's queue.
          const during = c.try(
            `kill -KILL ${pid}; curl -sS --max-time 20 -o /dev/null -w '%{http_code}' http://${listen}/`,
          );
          const waited = await during;
          pid = await newMain(pid);
          await pause(500);
          const r = await l.stop();
          t.comment(`${suite}, SIGKILL and crash-restart: ${figures(r)}`);
          t.equal(waited.stdout, '200', 'a connection made after the kill is served by the new process');
          t.equal(Number(await q(`systemctl show -P NRestarts ${unit}`)), restarts + 1, 'systemd restarted it');
          // What was in flight on the killed process is lost; nothing else may be.
          t.ok(r.failed <= 50, `at most one failure per connection (those in flight): ${r.failed}`);
          await healthy(t, c, pid, socket, 'after the crash');
        });

        await t.test('systemctl stop closes the socket; start binds afresh', async (t) => {
          await c.sh(`systemctl stop ${unit}`);
          t.equal(await listener(c), '', 'nothing listens once stopped');
          t.equal(await q(`systemctl show -P NFileDescriptorStore ${unit}`), '0', 'the store is empty');
          t.equal(await q(`test -e ${pidFile} && echo stale || echo none`), 'none', 'no pid file left');
          await c.sh(`systemctl start ${unit}`);
          t.not(await listener(c), socket, 'a new socket');
        });

        await t.test('a changed listen takes effect at the next restart', async (t) => {
          const port = Number(listen!.slice(listen!.lastIndexOf(':') + 1));
          const wildcard = listen!.startsWith('[') ? '[::]' : '0.0.0.0';
          const listening = async (p: number, host: string) =>
            (await q(`ss -Hltn 'sport = :${p}' | awk '{print $4}' | paste -sd,`)) === `${host}:${p}`;
          // Another port; then the same port on every address, which overlaps the kept socket's.
          for (const moved of [`${listen!.slice(0, listen!.lastIndexOf(':'))}:${port + 1}`, `${wildcard}:${port}`]) {
            await resetCount();
            await c.sh(`sed -i 's/^listen = .*/listen = "${moved}"/' ${config} && systemctl restart ${unit}`);
            const p = Number(moved.slice(moved.lastIndexOf(':') + 1));
            t.ok(await listening(p, moved.slice(0, moved.lastIndexOf(':'))), `it serves on ${moved} alone`);
            t.match(
              await q(`journalctl -u ${unit} -o cat | grep 'kept socket' | tail -n 1`),
              `kept socket ${listen} closed: listen is now ${moved}`,
              'the journal says why',
            );
            t.equal(
              await q(`systemctl show -P NFileDescriptorStore ${unit}`),
              '1',
              'the store holds the new socket only',
            );
            const kept = await listenerOn(c, p);
            await c.sh(`systemctl restart ${unit}`);
            t.equal(await listenerOn(c, p), kept, 'which the next restart keeps');
            await c.sh(`sed -i 's/^listen = .*/listen = "${listen}"/' ${config} && systemctl restart ${unit}`);
            t.ok(await listening(port, listen!.slice(0, listen!.lastIndexOf(':'))), `back on ${listen} alone`);
          }
        });
      });
    }

    t.test('bookworm: the SysV init script (restart, force-reload, an upgrade)', async (t) => {
      const c = await boot(t, 'bookworm');
      const q = async (script: string) => (await c.sh(script)).trim();
      // As on a host without systemd: the daemon started by the init script, which is enabled
      // in its runlevels (systemctl disable took the links away too), and dpkg and the
      // maintainer scripts run with /run/systemd/system hidden, so the postinst's try-restart
      // goes through invoke-rc.d to the init script.
      const hidden = (command: string) => c.try(`unshare -m sh -c 'mount -t tmpfs tmpfs /run/systemd && ${command}'`);
      await c.sh(`dpkg -i ${deb} >/dev/null && systemctl disable --now ${unit} 2>/dev/null`);
      t.equal((await hidden(`update-rc.d ${name} enable`)).code, 0, 'the init script enabled');
      // Without the redirection to systemctl that /lib/lsb/init-functions does on a systemd host.
      const init = (action: string) =>
        c.try(`/etc/init.d/${name} ${action}`, { env: { SYSTEMCTL_SKIP_REDIRECT: '1' } });
      t.equal((await init('start')).code, 0, 'start');
      let pid = await q(`cat ${pidFile}`);
      const socket = await listener(c);
      const l = load(t, c);
      await pause(500);
      for (let i = 1; i <= 3; i++) {
        const r = await init('restart');
        t.equal(r.code, 0, `restart ${i}: exit 0 ${r.err}`);
        const now = await q(`cat ${pidFile}`);
        t.not(now, pid, `restart ${i}: a new daemon`);
        pid = now;
        await healthy(t, c, pid, socket, `restart ${i}`);
      }
      t.equal((await init('force-reload')).code, 0, 'force-reload');
      await healthy(t, c, pid, socket, 'force-reload');
      const upgrade = await hidden(`dpkg -i ${debNext}`);
      t.equal(upgrade.code, 0, `dpkg -i ${next}: ${upgrade.err}`);
      const now = await q(`cat ${pidFile}`);
      t.not(now, pid, 'the upgrade restarted the daemon');
      pid = now;
      await pause(500);
      const r = await l.stop();
      t.comment(`bookworm, init script restart ×3, force-reload and upgrade: ${figures(r)}`);
      t.ok(r.requests > 500, 'the load ran all along');
      t.equal(r.failed, 0, '0 failed requests over the whole window');
      t.equal(await q(`readlink /proc/${pid}/exe`), `/usr/sbin/${name}`, 'the new executable runs');
      t.equal(await q(`systemctl is-active ${unit} || true`), 'inactive', 'systemd never started it');
      await healthy(t, c, pid, socket, 'upgraded');
      t.equal((await init('stop')).code, 0, 'stop');
      t.equal(await q(`pgrep -x ${name} || echo none`), 'none', 'no process left');
    });

    t.test("trixie: rpm -U of the next version under systemd (Debian's rpm)", async (t) => {
      const c = await boot(t, 'trixie');
      const q = async (script: string) => (await c.sh(script)).trim();
      await c.sh(`rpm -i --nodeps ${rpm}`);
      t.equal(await q(`systemctl is-active ${unit}`), 'active', 'installed and active');
      const pid = await q(`systemctl show -P MainPID ${unit}`);
      const socket = await listener(c);
      const l = load(t, c);
      await pause(500);
      const up = await c.try(`rpm -U --nodeps ${rpmNext}`);
      t.equal(up.code, 0, `rpm -U: ${up.err}`);
      const now = await q(
        `for i in $(seq 300); do p=$(systemctl show -P MainPID ${unit}); [ "$p" != 0 ] && [ "$p" != ${pid} ] && { echo $p; exit 0; }; sleep 0.05; done; exit 1`,
      );
      await pause(500);
      const r = await l.stop();
      t.comment(`trixie, rpm -U: ${figures(r)}`);
      t.equal(r.failed, 0, '0 failed requests over the whole window');
      t.equal(await q(`rpm -q --qf '%{VERSION}' ${name}`), next, `${next} installed`);
      await healthy(t, c, now, socket, 'upgraded');
    });
  },
);
