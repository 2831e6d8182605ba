/* The service manager's notification protocol (sd_notify(3)) without libsystemd. */
#ifndef FORKD_SD_NOTIFY_H
#define FORKD_SD_NOTIFY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The most descriptors one notification carries (FDSTORE=1). */
#define SD_NOTIFY_MAX_FDS 64 /* FD_SEND_MAX */

/*
 * Sends state ("READY=1", "STATUS=...", several lines at once) as one datagram to socket_path:
 * a file system path, or "@name" for an abstract socket, with n_fds descriptors attached (for
 * FDSTORE=1; 0 for none). Returns 0, or -1 with errno (EINVAL for a path that is neither, one too
 * long for sockaddr_un, or more than SD_NOTIFY_MAX_FDS descriptors).
 */
int sd_notify_send(const char *socket_path, const char *state, const int *fds, int n_fds);

/*
 * BARRIER=1 (sd_notify_barrier(3)): returns once the manager has handled every notification sent
 * before, or -1 with errno (ETIMEDOUT after timeout_ms).
 */
int sd_notify_barrier(const char *socket_path, int timeout_ms);

/* CLOCK_MONOTONIC in microseconds, for RELOADING=1's MONOTONIC_USEC=. */
uint64_t sd_notify_monotonic_usec(void);

#ifdef __cplusplus
}
#endif

#endif
