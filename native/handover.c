/* The hand-over of a restart: listening sockets from the daemon to `restart` (handover.h). */
#define _GNU_SOURCE
#include "handover.h"

#include "fd_send.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* "\0forkd-handover-<pid>": abstract, so nothing is left on disk and no directory is trusted. */
static socklen_t address(struct sockaddr_un *sa, pid_t daemon) {
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  int n = snprintf(sa->sun_path + 1, sizeof sa->sun_path - 1, "forkd-handover-%ld", (long)daemon);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

static int fail_close(int fd, int err) {
  if (fd >= 0) close(fd);
  errno = err;
  return -1;
}

int handover_listen(pid_t daemon) {
  struct sockaddr_un sa;
  socklen_t len = address(&sa, daemon);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (bind(fd, (struct sockaddr *)&sa, len) < 0 || listen(fd, 1) < 0) return fail_close(fd, errno);
  return fd;
}

int handover_accept(int listen_fd, pid_t daemon, long timeout_ms, int *conn, char *answer, int *fds,
                    int *n_fds) {
  *conn = -1, *n_fds = 0;
  struct pollfd p = {.fd = listen_fd, .events = POLLIN};
  int r;
  while ((r = poll(&p, 1, (int)timeout_ms)) < 0 && errno == EINTR) {}
  if (r < 0) return -1;
  if (r == 0) return errno = ETIMEDOUT, -1;
  int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (c < 0) return -1;
  struct ucred cred;
  socklen_t cl = sizeof cred;
  if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) return fail_close(c, errno);
  if (cred.pid != daemon) return fail_close(c, EPERM);
  /* The answer and its fds come in one message; wait for it as long again at most. */
  p = (struct pollfd){.fd = c, .events = POLLIN};
  while ((r = poll(&p, 1, (int)timeout_ms)) < 0 && errno == EINTR) {}
  if (r <= 0) return fail_close(c, r == 0 ? ETIMEDOUT : errno);
  union {
    char buf[CMSG_SPACE(sizeof(int) * HANDOVER_MAX_FDS)];
    struct cmsghdr align;
  } control;
  struct iovec iov = {.iov_base = answer, .iov_len = 1};
  struct msghdr msg = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = control.buf,
                       .msg_controllen = sizeof control.buf};
  ssize_t got;
  while ((got = recvmsg(c, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {}
  if (got < 0) return fail_close(c, errno);
  for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
    if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
      int n = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      memcpy(fds + *n_fds, CMSG_DATA(cm), sizeof(int) * (size_t)n);
      *n_fds += n;
    }
  if (got == 0 || (msg.msg_flags & MSG_CTRUNC)) {
    for (int i = 0; i < *n_fds; i++) close(fds[i]);
    *n_fds = 0;
    return fail_close(c, got == 0 ? ECONNRESET : EMSGSIZE);
  }
  *conn = c;
  return 0;
}

int handover_give(char answer, const int *fds, int n_fds) {
  if (n_fds < 0 || n_fds > HANDOVER_MAX_FDS) return errno = EINVAL, -1;
  struct sockaddr_un sa;
  socklen_t len = address(&sa, getpid());
  int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c < 0) return -1;
  if (connect(c, (struct sockaddr *)&sa, len) < 0) return fail_close(c, errno);
  /* Only root or our own user may have our sockets: anyone can bind an abstract name. */
  struct ucred cred;
  socklen_t cl = sizeof cred;
  if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) return fail_close(c, errno);
  if (cred.uid != 0 && cred.uid != geteuid()) return fail_close(c, EPERM);
  ssize_t sent = fd_send(c, NULL, 0, &answer, 1, fds, n_fds);
  if (sent < 0) return fail_close(c, errno);
  return c;
}

static int cmp_int(const void *a, const void *b) {
  return *(const int *)a - *(const int *)b;
}

int handover_listening_fds(int *fds, int max) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  int n = 0, self = dirfd(d);
  struct dirent *e;
  while ((e = readdir(d)) && n < max) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    int fd = atoi(e->d_name), on = 0, type = 0;
    socklen_t l1 = sizeof on, l2 = sizeof type;
    if (fd == self) continue;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &l1) == 0 && on &&
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l2) == 0 && type == SOCK_STREAM)
      fds[n++] = fd;
  }
  closedir(d);
  qsort(fds, (size_t)n, sizeof *fds, cmp_int);
  return n;
}
