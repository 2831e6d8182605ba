/* The service manager's notification protocol (sd_notify(3)) without libsystemd. */
#ifndef FORKD_SD_NOTIFY_H
#define FORKD_SD_NOTIFY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Sends state ("READY=1", "STATUS=...", several lines at once) as one datagram to socket_path:
 * a file system path, or "@name" for an abstract socket. Returns 0, or -1 with errno (EINVAL
 * for a path that is neither, or too long for sockaddr_un).
 */
int sd_notify_send(const char *socket_path, const char *state);

/* CLOCK_MONOTONIC in microseconds, for RELOADING=1's MONOTONIC_USEC=. */
uint64_t sd_notify_monotonic_usec(void);

#ifdef __cplusplus
}
#endif

#endif
