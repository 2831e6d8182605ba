/* The daemon's stdout and stderr after ready, to syslog (ARCHITECTURE.md §2). */
#ifndef FORKD_SYSLOG_RELAY_H
#define FORKD_SYSLOG_RELAY_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Starts a relay process that sends each line written to *out_fd (for the daemon's stdout) and
 * *err_fd (its stderr) to the syslog socket at socket_path (normally /dev/log), as one datagram
 * "<PRI>IDENT[PID]: line" with facility daemon and the caller's pid (no time: syslog daemons
 * stamp local messages as they receive them). A line that starts with an sd-daemon(3) prefix "<N>"
 * gets priority N; other lines are info from stdout and err from stderr. A line over 4 KiB is sent
 * in pieces, each at the line's priority. A syslog that stops reading loses lines after a second's
 * wait; it never blocks the daemon.
 *
 * The relay is not the caller's child (it is forked twice, so it never becomes a zombie of the
 * daemon). It holds nothing of the caller's but the two pipes and the socket, is named
 * "IDENT-log" (/proc/PID/comm), ignores SIGHUP, SIGINT, SIGTERM and SIGPIPE, and exits once both
 * pipes reach end of file: when every process that holds them has closed them or died, so the last
 * lines of a crash still reach the log.
 *
 * Returns 0 with the write ends in *out_fd and *err_fd (close-on-exec), or -1 with errno when
 * the socket cannot be reached (ENOENT, ECONNREFUSED, ...) or the pipes or forks fail; then
 * nothing was started and nothing is left open.
 */
int syslog_relay_start(const char *ident, const char *socket_path, int *out_fd, int *err_fd);

#ifdef __cplusplus
}
#endif

#endif
