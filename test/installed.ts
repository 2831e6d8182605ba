// The packages on real hosts: Debian 12 and 13 booted with systemd as PID 1 in containers
// (test/lib/container.ts), /run and /tmp noexec. dpkg -i, ready, reload, a broken reload, the
// watchdog, a clean stop, socket activation, dpkg -r then -i, an upgrade that keeps a modified
// conffile, purge; the SysV init script through start-stop-daemon; the .rpm with rpm -i. Nothing
// here touches the machine the tests run on. Whatever the server: readiness, pids, the journal,
// and for a daemon that listens (forkd.listen) that its address accepts connections; what it
// answers is the sample's business (test/server/).
import { basename, join } from 'node:path';
import t, { type Test } from 'tap';
import { Container, type Suite, suites, unavailable } from './lib/container';
import { name, pkg, version } from './lib/identity';
import { packages, versionPackages } from './lib/packages';

const user = pkg.forkd.user;
const next = version.replace(/(\d+)$/, (n) => String(Number(n) + 1));
const config = pkg.forkd.config;
/** forkd.listen as host and port for bash's /dev/tcp; undefined for a daemon that does not listen. */
const listen = pkg.forkd.listen
  ? (/^\[?(.*?)\]?:(\d+)$/.exec(pkg.forkd.listen)!.slice(1) as [string, string])
  : undefined;
/** Exits 0 once the address accepts a TCP connection (at most 10 s); true when there is none. */
const accepts = listen
  ? `for i in $(seq 100); do timeout 2 bash -c '</dev/tcp/${listen[0]}/${listen[1]}' 2>/dev/null && exit 0; sleep 0.1; done; exit 1`
  : 'true';
const where = listen ? `on ${pkg.forkd.listen}` : '(it does not listen)';
const guest = '/var/tmp/forkd';

// Several containers boot here and the watchdog takes its time: this file may take 20 minutes.
t.setTimeout(20 * 60_000);

t.test('the packages on a booted Debian', { skip: unavailable() }, async (t) => {
  // The .deb and .rpm as test/packaging.ts checks them (built once, test/lib/packages.ts), and
  // the next version's .deb for the upgrade.
  const started = Date.now();
  const [built, nextBuilt] = await Promise.all([packages(t), versionPackages(t, next)]);
  const [nextDir, nextPath] = [nextBuilt.dir, nextBuilt.deb];
  t.comment(`packages built in ${Math.round((Date.now() - started) / 1000)} s`);
  const deb = join(guest, basename(built.deb));
  const rpm = join(guest, basename(built.rpm));
  const debNext = join(`${guest}-next`, basename(nextPath));
  const boot = (t: Test, suite: Suite) =>
    Container.boot(t, suite, { binds: { [built.dir]: guest, [nextDir]: `${guest}-next` } });

  for (const suite of Object.keys(suites) as Suite[]) {
    t.test(`${suite} (systemd ${suites[suite]}): the .deb from install to purge`, async (t) => {
      const bootedAt = Date.now();
      const c = await boot(t, suite);
      t.teardown(async () => {
        if (!t.passing()) t.comment(`${suite} journal:\n${await c.journal(80)}`);
      });
      const q = async (script: string) => (await c.sh(script)).trim();
      const mainPid = async () => Number(await q(`systemctl show -P MainPID ${name}.service`));
      const serving = async () => (await c.try(accepts, { timeoutMs: 30_000 })).code === 0;
      /** How many times the daemon has said "reloaded" in the journal. */
      const reloads = async () =>
        Number(await q(`journalctl -b -u ${name}.service -o cat | grep -c '^reloaded$' || true`));

      const install = await c.try(`dpkg -i ${deb}`);
      t.equal(install.code, 0, `dpkg -i: ${install.err}`);
      t.notMatch(install.stdout + install.err, /error|could not|failed/i, 'dpkg -i says nothing went wrong');
      for (const dir of ['/run', '/tmp'])
        t.match(await q(`findmnt -no OPTIONS ${dir}`), /(^|,)noexec(,|$)/, `${dir} is noexec`);
      t.equal(
        await q(`systemctl show -P ActiveState,SubState ${name}.service | paste -sd/`),
        'active/running',
        'active (running) after dpkg -i',
      );
      t.ok(await serving(), `accepts connections ${where}`);

      let pid = await mainPid();
      const status = await q(`cat /proc/${pid}/status`);
      const uid = await q(`id -u ${user}`);
      t.match(status, new RegExp(`^Uid:\\t${uid}\\t${uid}\\t${uid}\\t${uid}$`, 'm'), `runs as ${user}`);
      t.match(status, /^NoNewPrivs:\t1$/m, 'NoNewPrivs 1');
      t.match(status, /^CapEff:\t0+$/m, 'CapEff 0');
      t.match(status, /^Seccomp:\t2$/m, 'Seccomp 2 (filtered)');
      t.match(status, /^Umask:\t0027$/m, "umask 0027, the unit's");
      t.match(status, new RegExp(`^Name:\\t${name}$`, 'm'), `Name ${name}`);
      t.equal(await q(`pgrep -x ${name}`), String(pid), `pgrep -x ${name}`);
      t.match(
        await q(`systemctl status --no-pager ${name}.service | grep 'Main PID'`),
        `${pid} (${name})`,
        'systemctl status names it',
      );
      t.match(
        await q(`grep forkd.node /proc/${pid}/maps | head -1`),
        `/usr/lib/${name}/forkd.node`,
        'the addon is the installed copy',
      );
      t.equal(await q(`stat -c %a /run/${name}/${name}.pid`), '640', 'the pid file follows the umask: 0640');

      // Without the installed copy: the unit's private /dev/shm, the one place left that allows
      // exec; and with that one read-only too, the failure lists every place tried.
      await c.sh(`mv /usr/lib/${name}/forkd.node /root/ && systemctl restart ${name}.service`);
      t.match(
        await q(
          `grep -E ' r-xp .* /dev/shm/#[0-9]+ \\(deleted\\)$' /proc/$(systemctl show -P MainPID ${name}.service)/maps || true`,
        ),
        /\/dev\/shm\/#\d+ \(deleted\)$/,
        'no installed copy: loaded from an unnamed file in the private /dev/shm',
      );
      await c.sh(
        `mkdir -p /run/systemd/system/${name}.service.d && printf '[Service]\nTemporaryFileSystem=/dev/shm:ro\nRestart=no\n' >/run/systemd/system/${name}.service.d/shm.conf && systemctl daemon-reload`,
      );
      t.not((await c.try(`systemctl restart ${name}.service`)).code, 0, 'and nowhere left: the start fails');
      t.match(
        await q(`journalctl -b -u ${name}.service -o cat | grep 'cannot load the native addon' | tail -n 1`),
        new RegExp(
          `^${name}: cannot load the native addon; tried /usr/lib/${name}/forkd.node \\(installed copy\\): absent; /run/${name} \\(RUNTIME_DIRECTORY\\): mounted noexec; /tmp \\(TMPDIR unset\\): mounted noexec; /dev/shm: not writable \\(EROFS\\)\\. `,
        ),
        'the journal lists each place tried and why',
      );
      await c.sh(
        `rm -r /run/systemd/system/${name}.service.d && systemctl daemon-reload && mv /root/forkd.node /usr/lib/${name}/ && systemctl reset-failed ${name}.service && systemctl start ${name}.service`,
      );
      t.not(
        await q(`grep -c /usr/lib/${name}/forkd.node /proc/$(systemctl show -P MainPID ${name}.service)/maps || true`),
        '0',
        'the installed copy back: loaded from it again',
      );
      pid = await mainPid();

      const security = await q(`systemd-analyze security --no-pager ${name}.service | tail -n 1`);
      const exposure = Number(/exposure level for \S+: ([\d.]+)/.exec(security)?.[1]);
      t.ok(exposure <= 2.0, `systemd-analyze security: exposure ${exposure} <= 2.0`);
      t.comment(`${suite}: ${security}`);

      const reloaded = await reloads();
      await c.sh(`echo '# edited' >>${config} && systemctl reload ${name}.service`);
      t.equal(await reloads(), reloaded + 1, 'systemctl reload: the daemon re-read its config (the journal says so)');
      t.equal(await mainPid(), pid, 'with the same pid');
      // Broken for any TOML reader.
      await c.sh(`echo '[[broken' >>${config}`);
      const broken = await c.try(`systemctl reload ${name}.service`);
      t.not(broken.code, 0, 'a reload with a broken config fails visibly');
      t.match(
        await q(`journalctl -b -u ${name}.service -o cat | grep -F '${config}' | tail -n 1`),
        config,
        'the journal names the config file',
      );
      t.equal(await q(`systemctl is-active ${name}.service`), 'active', 'the daemon stays up');
      t.equal(await mainPid(), pid, 'the same process');
      t.ok(await serving(), `still accepting connections ${where}`);
      t.equal(await reloads(), reloaded + 1, 'the broken config never reached the daemon');
      await c.sh(`sed -i '$d' ${config}`);

      // The watchdog, with a shorter interval than the unit's 30 s for the test's sake.
      await c.sh(
        `mkdir -p /run/systemd/system/${name}.service.d && printf '[Service]\\nWatchdogSec=3s\\n' >/run/systemd/system/${name}.service.d/watchdog.conf && systemctl daemon-reload && systemctl restart ${name}.service`,
      );
      const before = await mainPid();
      await c.sh(`kill -STOP ${before}`);
      await c.sh(
        `for i in $(seq 300); do p=$(systemctl show -P MainPID ${name}.service); [ "$p" != 0 ] && [ "$p" != ${before} ] && [ "$(systemctl is-active ${name}.service)" = active ] && exit 0; sleep 0.1; done; exit 1`,
        { timeoutMs: 60_000 },
      );
      t.match(
        await q(`journalctl -b -u ${name}.service -o cat | grep -i watchdog | head -n 1`),
        /watchdog timeout/i,
        'SIGSTOP: the watchdog killed it',
      );
      t.ok(await serving(), `and the restarted daemon is ready ${where}`);
      await c.sh(`rm -r /run/systemd/system/${name}.service.d && systemctl daemon-reload`);

      await c.sh(`systemctl stop ${name}.service`);
      t.equal(
        await q(`systemctl show -P Result,ExecMainStatus,ActiveState ${name}.service | paste -sd/`),
        'success/0/inactive',
        'systemctl stop: clean exit 0',
      );
      t.equal(await q(`pgrep -x ${name} || echo none`), 'none', 'no process left');

      // Switching to socket activation (README: "Socket activation"), and back.
      if (listen) {
        await c.sh(`systemctl disable --now ${name}.service && systemctl enable --now ${name}.socket`);
        t.equal(
          await q(`systemctl is-active ${name}.service || true`),
          'inactive',
          'socket enabled: the service waits',
        );
        t.ok(await serving(), 'the socket accepts');
        await c.sh(
          `for i in $(seq 100); do systemctl is-active --quiet ${name}.service && exit 0; sleep 0.1; done; exit 1`,
        );
        t.pass('the first connection started the service');
        const main = await mainPid();
        t.match(
          await q(`ls -l /proc/${main}/fd/3`),
          /socket:\[\d+\]$/,
          'which holds the socket systemd passed as fd 3',
        );
        await c.sh(`systemctl disable --now ${name}.socket ${name}.service && systemctl enable --now ${name}.service`);
        t.ok(await serving(), 'back to the service binding on its own');
      } else {
        t.equal(
          await q(`systemctl cat ${name}.socket >/dev/null 2>&1 && echo yes || echo no`),
          'no',
          'no .socket unit',
        );
      }

      // dpkg -r then -i: nothing stays masked.
      t.equal((await c.try(`dpkg -r ${name}`)).code, 0, 'dpkg -r');
      t.equal(await q(`pgrep -x ${name} || echo none`), 'none', 'dpkg -r stopped it');
      const reinstall = await c.try(`dpkg -i ${deb}`);
      t.equal(reinstall.code, 0, `dpkg -i again: ${reinstall.err}`);
      if (listen)
        t.equal(
          await q(`systemctl is-enabled ${name}.socket || true`),
          'disabled',
          'the socket is not masked after dpkg -r then -i',
        );
      t.equal(await q(`systemctl is-enabled ${name}.service`), 'enabled');
      t.equal(await q(`systemctl is-active ${name}.service`), 'active');

      // Upgrade to the next version with the conffile modified here.
      await c.sh(`echo '# kept by the upgrade' >>${config}`);
      const old = await mainPid();
      const upgrade = await c.try(`dpkg -i --force-confdef --force-confold ${debNext}`);
      t.equal(upgrade.code, 0, `dpkg -i ${next}: ${upgrade.err}`);
      t.equal(await q(`dpkg-query -W -f '\${Version}' ${name}`), next, `upgraded to ${next}`);
      t.match(await q(`cat ${config}`), '# kept by the upgrade', 'the modified conffile is kept');
      t.not(await mainPid(), old, 'restarted');
      t.equal(await q(`systemctl is-active ${name}.service`), 'active', 'the new version runs with the kept config');
      t.ok(await serving(), `and is ready ${where}`);

      t.equal((await c.try(`dpkg -P ${name}`)).code, 0, 'dpkg -P');
      t.equal((await c.try(`getent passwd ${user}`)).code, 2, `no user ${user}`);
      t.equal((await c.try(`getent group ${user}`)).code, 2, `no group ${user}`);
      const left = await q(
        `ls -d /etc/${name} /etc/default/${name} /etc/init.d/${name} /etc/logrotate.d/${name} /var/lib/${name} /var/log/${name} /run/${name} /usr/sbin/${name} /usr/lib/${name} /lib/systemd/system/${name}.* /usr/lib/systemd/system/${name}.* /etc/rc?.d/*${name} 2>/dev/null || true; find /etc/systemd /run/systemd/system -name '${name}*'`,
      );
      t.equal(left, '', 'no files, units or links left');
      t.equal(
        await q(`systemctl list-unit-files --no-legend '${name}*' | wc -l`),
        '0',
        'no unit files known to systemd',
      );
      t.comment(`${suite}: booted, installed, upgraded, purged in ${Math.round((Date.now() - bootedAt) / 1000)} s`);
    });
  }

  t.test('the SysV init script, through start-stop-daemon with --user (bookworm)', async (t) => {
    const c = await boot(t, 'bookworm');
    const q = async (script: string) => (await c.sh(script)).trim();
    await c.sh(`dpkg -i ${deb} >/dev/null && systemctl disable --now ${name}.service 2>/dev/null`);
    // Without the redirection to systemctl that /lib/lsb/init-functions does on a systemd host.
    const init = (action: string) => c.try(`/etc/init.d/${name} ${action}`, { env: { SYSTEMCTL_SKIP_REDIRECT: '1' } });
    const pidFile = pkg.forkd.pidfile as string;
    const daemonPid = () => q(`cat ${pidFile}`);
    t.equal((await init('status')).code, 3, 'status before start: 3');
    t.equal((await init('start')).code, 0, 'start');
    const pid = await daemonPid();
    t.equal(
      (await c.try(listen ? accepts.replace('seq 100', 'seq 1') : 'true')).code,
      0,
      `ready once start returns ${where}`,
    );
    t.match(
      await q(`grep ^Uid: /proc/${pid}/status`),
      new RegExp(`\\t${await q(`id -u ${user}`)}\\t`),
      `runs as ${user} (--user)`,
    );
    t.equal(await q(`cat /proc/${pid}/comm`), name);
    t.equal(
      await q(`systemctl is-active ${name}.service || true`),
      'inactive',
      'started by the script itself, not by systemd',
    );
    t.equal((await init('status')).code, 0, 'status: 0');
    const log = `/var/log/${name}/${name}.log`;
    t.equal((await init('reload')).code, 0, 'reload');
    await c.sh(`for i in $(seq 50); do grep -q 'reloaded$' ${log} && exit 0; sleep 0.1; done; exit 1`);
    t.pass(`the daemon re-read its config (${log} says so)`);
    t.equal(await daemonPid(), pid, 'same pid');
    await c.sh(`echo '[[broken' >>${config}`);
    const broken = await init('reload');
    t.equal(broken.code, 1, 'reload with a broken config: 1');
    t.match(broken.err + broken.stdout, config, 'and names the config file');
    t.equal(await q(`grep -c 'reloaded$' ${log}`), '1', 'the broken config never reached the daemon');
    t.equal(await daemonPid(), pid, 'which still runs');
    await c.sh(`sed -i '$d' ${config}`);
    t.equal((await init('restart')).code, 0, 'restart');
    t.not(await daemonPid(), pid, 'a new process');
    t.equal((await init('stop')).code, 0, 'stop');
    t.equal(await q(`pgrep -x ${name} || echo none`), 'none', 'no process left');
    t.equal((await init('status')).code, 3, 'status after stop: 3');
  });

  t.test("the .rpm with rpm -i on a systemd host (trixie, Debian's rpm)", async (t) => {
    const c = await boot(t, 'trixie');
    const q = async (script: string) => (await c.sh(script)).trim();
    const install = await c.try(`rpm -i --nodeps ${rpm}`);
    t.equal(install.code, 0, `rpm -i: ${install.err}`);
    t.match(
      await q(`getent passwd ${user}`),
      new RegExp(`^${user}:x:\\d+:\\d+:.*:/nonexistent:/usr/sbin/nologin$`),
      `%pre created ${user}, no home, no shell`,
    );
    t.equal(await q(`systemctl is-enabled ${name}.service`), 'enabled', '%post enabled the unit');
    t.equal(await q(`systemctl is-active ${name}.service`), 'active', 'and started it');
    t.equal((await c.try(accepts, { timeoutMs: 30_000 })).code, 0, `ready ${where}`);
    const erase = await c.try(`rpm -e --nodeps ${name}`);
    t.equal(erase.code, 0, `rpm -e: ${erase.err}`);
    t.equal(await q(`pgrep -x ${name} || echo none`), 'none', '%preun stopped it');
    t.equal(await q(`systemctl list-unit-files --no-legend '${name}*' | wc -l`), '0', 'no unit files left');
    t.equal(await q(`ls /usr/sbin/${name} /usr/lib/${name} 2>/dev/null || true`), '', 'no files left');
  });
});
