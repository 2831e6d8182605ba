/*
 * The hand-over of a restart (ARCHITECTURE.md §2, "Restart"): the running daemon gives its
 * listening sockets to the `restart` command over an abstract unix socket with SCM_RIGHTS, and
 * the command hands them to the successor it starts. Each side checks the other's credentials.
 */
#ifndef FORKD_HANDOVER_H
#define FORKD_HANDOVER_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* At most this many listening sockets are handed over. */
#define HANDOVER_MAX_FDS 64 /* FD_SEND_MAX */

/* The daemon's answer, the one byte of data beside the fds. */
#define HANDOVER_GIVEN 'G' /* the fds follow */
#define HANDOVER_FOREGROUND 'F' /* under a service manager (--foreground): not ours to restart */
#define HANDOVER_BUSY 'B' /* starting, stopping, or another restart under way */
#define HANDOVER_NOT_PASSED 'N' /* the server binds itself: it never read daemon.listenFds */

/* The command: binds the abstract socket for the daemon pid and listens (close-on-exec). */
int handover_listen(pid_t daemon);

/*
 * The command: waits up to timeout_ms for the daemon to connect, checks that the peer is pid
 * daemon (SO_PEERCRED), and receives its answer and fds (close-on-exec). *conn stays
 * open: the daemon watches it, and its end of the restart comes when it closes. Returns -1 with
 * errno (ETIMEDOUT: the daemon did not answer; EPERM: another process connected).
 */
int handover_accept(int listen_fd, pid_t daemon, long timeout_ms, int *conn, char *answer, int *fds,
                    int *n_fds);

/*
 * The daemon: connects to the socket for its own pid, checks that the listener is root or its
 * own user, and sends answer with the n fds. Returns the connection (close-on-exec), or -1 with
 * errno (EPERM: the listener is another user).
 */
int handover_give(char answer, const int *fds, int n_fds);

/* The daemon: its listening stream sockets (SO_ACCEPTCONN), in fd order; returns how many. */
int handover_listening_fds(int *fds, int max);

#ifdef __cplusplus
}
#endif

#endif
