/* Sending data with descriptors attached (SCM_RIGHTS): the hand-over and FDSTORE=1 share it. */
#ifndef FORKD_FD_SEND_H
#define FORKD_FD_SEND_H

#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The most descriptors one message carries. */
#define FD_SEND_MAX 64

/*
 * One sendmsg(2) of len bytes to sock (to: its destination, or NULL when connected) with n_fds
 * descriptors attached, retried on EINTR, never SIGPIPE. Returns what sendmsg returns; -1 with
 * EINVAL for n_fds outside 0..FD_SEND_MAX.
 */
ssize_t fd_send(int sock, const struct sockaddr *to, socklen_t to_len, const void *data, size_t len,
                const int *fds, int n_fds);

#ifdef __cplusplus
}
#endif

#endif
