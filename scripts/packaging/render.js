'use strict';
// Renders every packaged text file from the description's identity (describe.js).

/** How many listening sockets the unit's file-descriptor store keeps. */
const FD_STORE_MAX = 16;

const rfc2822 = (epoch) => new Date(epoch * 1000).toUTCString().replace('GMT', '+0000');

function serviceUnit(id) {
  return `# ${id.name}.service: rendered from package.json by scripts/packaging; see ${id.name}(8).
# Options: ${id.defaults} (${id.optsVar}).${id.listen ? ` Socket activation instead of binding: ${id.name}.socket.` : ''}
[Unit]
Description=${id.summary}
Documentation=man:${id.name}(8)
After=network.target

[Service]
# The daemon says READY=1 once it ${id.listen ? 'listens' : 'is ready'} (sd_notify, no libsystemd), STOPPING=1 on stop.
Type=notify
EnvironmentFile=-${id.defaults}
ExecStart=/usr/sbin/${id.name} --foreground --config ${id.config} --pidfile ${id.pidfile} $${id.optsVar}
# A broken config fails the reload (systemctl reload exits non-zero) and the running one stays:
# the check runs first. systemd 252 (Debian 12) has no Type=notify-reload: SIGHUP, answered by
# RELOADING=1 ... READY=1.
ExecReload=/usr/sbin/${id.name} --check-config --config ${id.config} $${id.optsVar}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
${
  id.listen
    ? `# The daemon keeps the sockets it listens on in systemd's file-descriptor store: across a
# restart (a crash, systemctl restart, a package upgrade) they stay open, connections wait in
# their queue instead of being refused, and the new process serves them (a changed listen
# address replaces the kept socket). FDSTORE tells the daemon (systemd 254 and later set it
# themselves; Environment= overrides that, so a drop-in changes both).
FileDescriptorStoreMax=${FD_STORE_MAX}
Environment=FDSTORE=${FD_STORE_MAX}
`
    : ''
}# The daemon pings WATCHDOG=1 at half this interval.
WatchdogSec=30s
# The daemon's own stop bound is ${id.stopTimeoutS} s.
TimeoutStopSec=${2 * id.stopTimeoutS}s
User=${id.user}
Group=${id.user}
# ${id.runDir} (pid file), ${id.stateDir}, ${id.logDir}, all owned by ${id.user}.
# The native addon loads from /usr/lib/${id.name}/, so /run and /tmp may be noexec.
RuntimeDirectory=${id.runDir.slice('/run/'.length)}
StateDirectory=${id.stateDir.slice('/var/lib/'.length)}
LogsDirectory=${id.logDir.slice('/var/log/'.length)}
UMask=0027

# Hardening the daemon survives (systemd-analyze security: exposure at most 2.0, checked in a
# booted container by the tests). Not MemoryDenyWriteExecute: V8's JIT needs W+X pages.
NoNewPrivileges=yes
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
# A refused system call fails with EPERM rather than killing the daemon (Node tries setrlimit).
SystemCallErrorNumber=EPERM
ProtectProc=invisible
ProcSubset=pid
RemoveIPC=yes
PrivateMounts=yes
DevicePolicy=closed
KeyringMode=private
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
SystemCallArchitectures=native
${
  id.listen
    ? `# No capabilities: to serve a port below 1024, use ${id.name}.socket, or add
# AmbientCapabilities=CAP_NET_BIND_SERVICE and CapabilityBoundingSet=CAP_NET_BIND_SERVICE.
`
    : '# No capabilities.\n'
}CapabilityBoundingSet=

[Install]
WantedBy=multi-user.target
`;
}

function socketUnit(id) {
  return `# ${id.name}.socket: systemd listens and starts ${id.name}.service on the first connection.
# Enable either this or ${id.name}.service: systemctl enable --now ${id.name}.socket
[Unit]
Description=${id.summary} (socket)
Documentation=man:${id.name}(8)

[Socket]
ListenStream=${id.listen}
FileDescriptorName=http

[Install]
WantedBy=sockets.target
`;
}

function initScript(id) {
  return `#!/bin/sh
### BEGIN INIT INFO
# Provides:          ${id.name}
# Required-Start:    $remote_fs $network $syslog
# Required-Stop:     $remote_fs $network $syslog
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: ${id.summary}
# Description:       ${id.summary}. Forks; "start" returns once it serves.
### END INIT INFO
# For hosts without systemd. Rendered from package.json by scripts/packaging; see ${id.name}(8).

PATH=/sbin:/usr/sbin:/bin:/usr/bin
NAME=${id.name}
DAEMON=/usr/sbin/${id.name}
PIDFILE=${id.pidfile}
CONFIG=${id.config}
LOGFILE=${id.logFile}
DAEMON_USER=${id.user}
${id.optsVar}=""

[ -x "$DAEMON" ] || exit 0
[ -r ${id.defaults} ] && . ${id.defaults}
. /lib/lsb/init-functions

do_start() {
	install -d -o "$DAEMON_USER" -g "$DAEMON_USER" -m 0755 ${id.runDir}
	install -d -o "$DAEMON_USER" -g "$DAEMON_USER" -m 0750 ${id.logDir} ${id.stateDir}
	# 0: started; 1: already running; other: the daemon's own exit code (see ${id.name}(8)).
	"$DAEMON" status --pidfile "$PIDFILE" >/dev/null 2>&1 && return 1
	# The daemon forks; it returns once it serves, or with the reason it could not start.
	# It binds as root, then becomes $DAEMON_USER.
	start-stop-daemon --start --quiet --pidfile "$PIDFILE" --exec "$DAEMON" -- \\
		--config "$CONFIG" --pidfile "$PIDFILE" --log "$LOGFILE" --user "$DAEMON_USER" $${id.optsVar}
}

do_stop() {
	# By pid file and user, not by executable: after an upgrade the old one is gone.
	start-stop-daemon --stop --quiet --retry=TERM/20/KILL/5 --pidfile "$PIDFILE" --user "$DAEMON_USER"
	RETVAL=$?
	[ "$RETVAL" = 2 ] && return 2
	rm -f "$PIDFILE"
	return "$RETVAL"
}

case "$1" in
start)
	log_daemon_msg "Starting $NAME"
	do_start
	case "$?" in
	0|1) log_end_msg 0 ;;
	*) log_end_msg 1; exit 1 ;;
	esac
	;;
stop)
	log_daemon_msg "Stopping $NAME"
	do_stop
	case "$?" in
	0|1) log_end_msg 0 ;;
	*) log_end_msg 1; exit 1 ;;
	esac
	;;
restart)
	log_daemon_msg "Restarting $NAME"
${
  id.listen
    ? `	# A running daemon hands its listening sockets to its successor, which starts from the
	# executable on disk (after an upgrade, the new one); the old one drains and exits once the
	# new one serves, so no connection is refused. If the successor fails, the old one serves on
	# and this fails. A daemon whose server binds its own sockets (150), or one that has just
	# exited (7), is stopped and started instead.
	if "$DAEMON" status --pidfile "$PIDFILE" >/dev/null 2>&1; then
		said=$("$DAEMON" restart --config "$CONFIG" --pidfile "$PIDFILE" --log "$LOGFILE" --user "$DAEMON_USER" $${id.optsVar} 2>&1 >/dev/null)
		case "$?" in
		0) log_end_msg 0; exit 0 ;;
		7|150) ;;
		*) echo "$said" >&2; log_end_msg 1; exit 1 ;;
		esac
	fi
`
    : ''
}	do_stop
	case "$?" in
	0|1)
		do_start
		case "$?" in
		0) log_end_msg 0 ;;
		*) log_end_msg 1; exit 1 ;;
		esac
		;;
	*) log_end_msg 1; exit 1 ;;
	esac
	;;
try-restart)
	"$DAEMON" status --pidfile "$PIDFILE" >/dev/null 2>&1 || exit 0
	"$0" restart
	;;
reload|force-reload)
	log_daemon_msg "Reloading $NAME"
	# A broken config fails the reload, and the running daemon keeps the config it has.
	if ! "$DAEMON" --check-config --config "$CONFIG" $${id.optsVar} >/dev/null; then
		log_end_msg 1
		exit 1
	fi
	"$DAEMON" reload --pidfile "$PIDFILE" >/dev/null
	RETVAL=$?
	log_end_msg "$RETVAL"
	exit "$RETVAL"
	;;
status)
	"$DAEMON" status --pidfile "$PIDFILE"
	exit $?
	;;
*)
	echo "Usage: /etc/init.d/$NAME {start|stop|restart|try-restart|reload|force-reload|status}" >&2
	exit 3
	;;
esac
exit 0
`;
}

/** The config file, from the settings the server declares (src/server/config.ts), at their defaults. */
function config(id, settings) {
  const lines = settings.map((s) => `\n# ${s.help}\n${s.key} = ${JSON.stringify(s.default)}\n`).join('');
  return `# ${id.config}: configuration of ${id.name}; see ${id.name}(8).
# Reload after a change: systemctl reload ${id.name} (or: ${id.name} reload).
${lines}`;
}

function defaults(id) {
  return `# Extra command-line options for ${id.name}, read by ${id.name}.service and /etc/init.d/${id.name}.
# See ${id.name}(8). Example: ${id.optsVar}="${id.listen ? '--listen 127.0.0.1:8081' : '--ready-timeout 60'}"
${id.optsVar}=""
`;
}

function logrotate(id) {
  return `# Log files written with --log (the init script's ${id.logFile}).
# Under systemd the daemon logs to the journal instead.
${id.logDir}/*.log {
	weekly
	rotate 8
	compress
	delaycompress
	missingok
	notifempty
	su ${id.user} ${id.user}
	create 0640 ${id.user} ${id.user}
	sharedscripts
	postrotate
		/usr/sbin/${id.name} reload --pidfile ${id.pidfile} >/dev/null 2>&1 || true
	endscript
}
`;
}

/** roff: escape backslashes and leading dots/quotes, and hyphens in options. */
function roff(s) {
  return s
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/^([.'])/gm, '\\&$1');
}

function manPage(id, cli, identity, settings) {
  const date = new Date(id.epoch * 1000).toISOString().slice(0, 10);
  const options = cli
    .options(identity)
    .map((o) => {
      const flag = `${o.short ? `\\fB\\-${o.short}\\fR, ` : ''}\\fB\\-\\-${o.name}\\fR${o.value ? ` \\fI${o.value}\\fR` : ''}`;
      return `.TP\n${flag}\n${roff(o.help(identity))}`;
    })
    .join('\n');
  const commands = cli
    .commands(identity)
    .map(([c, h]) => `.TP\n\\fB${c}\\fR\n${roff(h)}`)
    .join('\n');
  const codes = cli.exitCodes.map(([n, h]) => `.TP\n\\fB${n}\\fR\n${roff(h)}`).join('\n');
  const configuration = settings
    .map((s) => `.TP\n\\fB${s.key}\\fR (default: ${roff(JSON.stringify(s.default))})\n${roff(s.help)}`)
    .join('\n');
  return `.TH ${id.name.toUpperCase()} 8 "${date}" "${id.name} ${id.version}" "System Administration"
.SH NAME
${id.name} \\- ${roff(id.summary)}
.SH SYNOPSIS
\\fB${id.name}\\fR [\\fIoptions\\fR]
.br
\\fB${id.name}\\fR \\fBstop\\fR|\\fBstatus\\fR|\\fBreload\\fR [\\fB\\-\\-pidfile\\fR \\fIFILE\\fR]
.br
${id.listen ? `\\fB${id.name}\\fR \\fBrestart\\fR [\\fIoptions\\fR]\n.br\n` : ''}\\fB${id.name}\\fR \\fB\\-\\-check\\-config\\fR [\\fB\\-\\-config\\fR \\fIFILE\\fR]${id.listen ? ' [\\fB\\-\\-listen\\fR \\fIHOST:PORT\\fR]' : ''}
.SH DESCRIPTION
${
  id.longDescription
    ? longDescription(id)
        .map((l) => (l ? roff(l) : '.PP'))
        .join('\n')
    : `${roff(id.summary)}.`
}
.PP
Without \\fB\\-\\-foreground\\fR, ${id.name} forks at once. The command shows everything the daemon
says while it starts, and returns only once the daemon serves (exit status 0), or with the reason
it could not start. Under systemd it runs with \\fB\\-\\-foreground\\fR, keeps the umask the unit
gives it (UMask=), and tells systemd when it is ready (Type=notify). Its process name is
\\fB${id.name}\\fR (pgrep \\-x, killall).
.SH OPTIONS
${options}
.SH COMMANDS
These act on a running daemon through its pid file and exit with LSB codes.
${commands}
.SH CONFIGURATION
The configuration file is TOML. Unknown settings and wrong types are errors (exit 78).
${configuration}
.SH SIGNALS
.TP
\\fBSIGTERM\\fR, \\fBSIGINT\\fR
${id.listen ? `Graceful stop: no new connections; requests already sent are answered; exit 0 within ${id.stopTimeoutS} s.` : `Graceful stop: the work in hand is finished; exit 0 within ${id.stopTimeoutS} s.`}
.TP
\\fBSIGHUP\\fR
Reload: reopen the \\fB\\-\\-log\\fR file and re\\-read the configuration file.
${
  id.listen
    ? `.TP
\\fBSIGUSR2\\fR
Sent by \\fB${id.name} restart\\fR: pass the listening sockets to the restart over a private unix socket, and stop once the new daemon is ready.
`
    : ''
}.SH EXIT STATUS
${codes}
.TP
\\fIN\\fR
the daemon exited with code \\fIN\\fR during start\\-up
.SH FILES
.TP
\\fI${id.config}\\fR
configuration (TOML; see CONFIGURATION)
.TP
\\fI${id.defaults}\\fR
extra options (\\fB${id.optsVar}\\fR) for the systemd unit and the init script
.TP
\\fI${id.pidfile}\\fR
pid file, locked while the daemon runs
.TP
\\fI${id.logFile}\\fR
log file when started by /etc/init.d/${id.name} (rotated by /etc/logrotate.d/${id.name})
.SH ENVIRONMENT
\\fBNODE_OPTIONS\\fR is ignored, and other \\fBNODE_*\\fR variables except
\\fBNODE_EXTRA_CA_CERTS\\fR are removed. \\fBNOTIFY_SOCKET\\fR, \\fBWATCHDOG_USEC\\fR,
${id.listen ? '\\fBLISTEN_FDS\\fR, \\fBFDSTORE\\fR (the listening sockets kept across restarts) ' : ''}and \\fBJOURNAL_STREAM\\fR are honoured as systemd sets them.
The native addon is loaded from \\fI/usr/lib/${id.name}/forkd.node\\fR, else through an unnamed
file in \\fBRUNTIME_DIRECTORY\\fR, \\fBTMPDIR\\fR (default \\fI/tmp\\fR) or \\fI/dev/shm\\fR, whichever
allows code to run.
.SH SEE ALSO
\\fBsystemctl\\fR(1), \\fBsystemd.service\\fR(5), \\fBsd_notify\\fR(3)
`;
}

function copyright(id) {
  const year = new Date(id.epoch * 1000).getUTCFullYear();
  return `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ${id.name}
Upstream-Contact: ${id.maintainer}${id.homepage ? `\nSource: ${id.homepage}` : ''}

Files: *
Copyright: ${year} ${id.maintainer}
License: ${id.license}

Files: usr/sbin/${id.name}
Copyright: ${year} ${id.maintainer}
 Node.js contributors and the authors of the libraries Node.js bundles
Comment: The executable embeds Node.js; its licence and those of its bundled
 libraries are in /usr/share/doc/${id.name}/LICENSE.node.
License: ${id.license} and others

License: MIT
 Permission is hereby granted, free of charge, to any person obtaining a copy
 of this software and associated documentation files (the "Software"), to deal
 in the Software without restriction, including without limitation the rights
 to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
 copies of the Software, and to permit persons to whom the Software is
 furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in
 all copies or substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
 AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
 OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
 THE SOFTWARE.
`;
}

function changelog(id) {
  return `${id.name} (${id.version}) unstable; urgency=medium

  * Release ${id.version}.

 -- ${id.maintainer}  ${rfc2822(id.epoch)}
`;
}

/** Create the system user: no home, no login shell, its own group. Safe to run twice. */
function addUser(id) {
  return `if ! getent passwd ${id.user} >/dev/null; then
	if command -v adduser >/dev/null 2>&1 && [ -e /etc/debian_version ]; then
		adduser --system --group --home /nonexistent --no-create-home --quiet ${id.user}
	else
		getent group ${id.user} >/dev/null || groupadd --system ${id.user}
		useradd --system --gid ${id.user} --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin ${id.user}
	fi
fi`;
}

/** On purge: the user's state, logs and the user itself. Safe to run twice. */
function purgeUserData(id) {
  return `rm -rf ${id.stateDir} ${id.logDir} ${id.runDir}
if getent passwd ${id.user} >/dev/null; then
	deluser --system --quiet ${id.user} >/dev/null 2>&1 || userdel ${id.user} || true
fi
if getent group ${id.user} >/dev/null; then
	delgroup --system --quiet ${id.user} >/dev/null 2>&1 || groupdel ${id.user} || true
fi`;
}

/**
 * Debian maintainer scripts in the manner of debhelper's dh_installsystemd and dh_installinit
 * snippets: enable and start on first install, try-restart on upgrade, stop on remove, clean up
 * on purge. Each one is safe to run twice.
 */
function debScripts(id) {
  const units = id.listen ? `'${id.name}.service' '${id.name}.socket'` : `'${id.name}.service'`;
  const configureLike =
    '[ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ]';
  const postinst = `if [ "$1" = "configure" ]; then
${indent(addUser(id))}
fi

if ${configureLike} ; then
	deb-systemd-helper unmask '${id.name}.service' >/dev/null || true
${
  id.listen
    ? `	# postrm masks both units on remove: unmask the socket too, or it stays masked after
	# dpkg -r then dpkg -i.
	deb-systemd-helper unmask '${id.name}.socket' >/dev/null || true
`
    : ''
}	# was-enabled is true for a new installation, so it is enabled then.
	if deb-systemd-helper --quiet was-enabled '${id.name}.service'; then
		deb-systemd-helper enable '${id.name}.service' >/dev/null || true
	else
		deb-systemd-helper update-state '${id.name}.service' >/dev/null || true
	fi
${id.listen ? `	deb-systemd-helper update-state '${id.name}.socket' >/dev/null || true\n` : ''}fi

if ${configureLike} ; then
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		# Upgrade: restart it if it runs (enabled${id.listen ? `, or started by ${id.name}.socket` : ''}). Then start it
		# if enabled: a new installation, or one after dpkg -r, where $2 is set but nothing runs.
		if [ -n "$2" ]; then deb-systemd-invoke try-restart '${id.name}.service' >/dev/null || true; fi
		deb-systemd-invoke start '${id.name}.service' >/dev/null || true
	fi
fi

if ${configureLike} ; then
	if [ -x "/etc/init.d/${id.name}" ]; then
		update-rc.d ${id.name} defaults >/dev/null
		if [ -n "$2" ]; then _action=try-restart; else _action=start; fi
		invoke-rc.d --skip-systemd-native ${id.name} $_action || exit 1
	fi
fi`;
  const prerm = `if [ -z "\${DPKG_ROOT:-}" ] && [ "$1" = remove ] && [ -d /run/systemd/system ] ; then
	deb-systemd-invoke stop ${units} >/dev/null || true
fi
if [ -z "\${DPKG_ROOT:-}" ] && [ "$1" = remove ] && [ -x "/etc/init.d/${id.name}" ] ; then
	invoke-rc.d --skip-systemd-native ${id.name} stop || exit 1
fi`;
  const postrm = `if [ "$1" = "remove" ]; then
	if [ -x "/usr/bin/deb-systemd-helper" ]; then
		deb-systemd-helper mask ${units} >/dev/null || true
	fi
fi
if [ "$1" = "purge" ]; then
	if [ -x "/usr/bin/deb-systemd-helper" ]; then
		deb-systemd-helper purge ${units} >/dev/null || true
		deb-systemd-helper unmask ${units} >/dev/null || true
	fi
fi
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = "purge" ] ; then
	update-rc.d ${id.name} remove >/dev/null
fi
if [ "$1" = "purge" ]; then
${indent(purgeUserData(id))}
fi`;
  return { postinst, prerm, postrm };
}

/**
 * RPM scriptlets: $1 counts the installed instances after (or during) the transaction. RPM
 * convention keeps the user and its data on erase (there is no purge).
 */
function rpmScriptlets(id) {
  const svc = `${id.name}.service`;
  return {
    pre: addUser(id),
    post: `if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null 2>&1 || true
	if [ "$1" -eq 1 ]; then
		systemctl enable ${svc} >/dev/null 2>&1 || true
		systemctl start ${svc} >/dev/null 2>&1 || true
	fi
elif [ "$1" -eq 1 ] && [ -x /etc/init.d/${id.name} ]; then
	/etc/init.d/${id.name} start || true
fi`,
    preun: `if [ "$1" -eq 0 ]; then
	if [ -d /run/systemd/system ]; then
		systemctl --no-reload disable --now ${svc}${id.listen ? ` ${id.name}.socket` : ''} >/dev/null 2>&1 || true
	elif [ -x /etc/init.d/${id.name} ]; then
		/etc/init.d/${id.name} stop || true
	fi
fi`,
    postun: `if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null 2>&1 || true
	if [ "$1" -ge 1 ]; then systemctl try-restart ${svc} >/dev/null 2>&1 || true; fi
elif [ "$1" -ge 1 ] && [ -x /etc/init.d/${id.name} ]; then
	/etc/init.d/${id.name} try-restart || true
fi`,
  };
}

/** lintian's overrides (deb only): each says why; they all come from shipping upstream Node.js as the executable. */
function lintianOverrides(id) {
  const exe = `usr/sbin/${id.name}`;
  return `# The executable is the upstream Node.js binary with the daemon embedded (a single-executable
# application), stripped before the daemon went in; its symbols are in ${id.name}-dbgsym.
# Node.js links zlib statically; a single executable cannot use the system's copy.
${id.name}: embedded-library zlib [${exe}]
# Node.js's release build is neither PIE nor FORTIFY_SOURCE; it ships as built upstream.
${id.name}: hardening-no-pie [${exe}]
${id.name}: hardening-no-fortify-functions [${exe}]
# Strings inside the embedded Node.js and its libraries, not this package's text.
${id.name}: spelling-error-in-binary * [${exe}]
# The licences of Node.js and the libraries it bundles, all of which the executable embeds.
${id.name}: extra-license-file [usr/share/doc/${id.name}/LICENSE.node]
`;
}

/** The tarball's INSTALL: what a package's maintainer scripts would do, by hand. */
function installNote(id) {
  return `${id.name} ${id.version} for Linux ${id.arch.name}: copy the tree to /, then create the system user:
  sudo cp -r etc lib usr /
  sudo adduser --system --group --home /nonexistent --no-create-home ${id.user}
With systemd: sudo systemctl daemon-reload && sudo systemctl enable --now ${id.name}
Without:      sudo /etc/init.d/${id.name} start
See: man ${id.name}
`;
}

function indent(text) {
  return text.replace(/^/gm, '\t');
}

/**
 * The packages' extended description (Debian's Description lines, the rpm %description), as
 * lines, "" between paragraphs: forkd.longDescription if the project gives one, wrapped at 72
 * characters; else what any forkd daemon is, in lines under 80.
 */
function longDescription(id) {
  if (!id.longDescription)
    return [
      `${id.name} is a Linux daemon written in TypeScript with forkd and shipped as one`,
      'executable. Started by hand it forks at once, shows its start-up messages and',
      'returns only once it serves; under systemd it runs in the foreground and',
      id.listen
        ? 'notifies readiness (Type=notify), and it supports socket activation.'
        : 'notifies readiness (Type=notify).',
    ];
  return id.longDescription.split(/\n\s*\n/).flatMap((paragraph, i) => {
    const lines = i > 0 ? [''] : [];
    let line = '';
    for (const word of paragraph.split(/\s+/).filter(Boolean)) {
      if (line && line.length + 1 + word.length > 72) {
        lines.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    return line ? [...lines, line] : lines;
  });
}

module.exports = {
  longDescription,
  serviceUnit,
  socketUnit,
  initScript,
  config,
  defaults,
  logrotate,
  manPage,
  copyright,
  changelog,
  lintianOverrides,
  installNote,
  debScripts,
  rpmScriptlets,
};
