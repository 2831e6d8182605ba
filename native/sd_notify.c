#define _GNU_SOURCE
#include "sd_notify.h"

#include "fd_send.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int sd_notify_send(const char *socket_path, const char *state, const int *fds, int n_fds) {
  struct sockaddr_un addr;
  size_t len = strlen(socket_path);
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if ((socket_path[0] != '/' && socket_path[0] != '@') || len < 2 || len >= sizeof addr.sun_path) {
    errno = EINVAL;
    return -1;
  }
  memcpy(addr.sun_path, socket_path, len);
  /* An abstract name starts with a NUL byte and is not NUL-terminated. */
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  socklen_t addr_len =
      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (socket_path[0] == '/'));

  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  /* FDSTORE=1 passes the descriptors along (SCM_RIGHTS), as sd_pid_notify_with_fds(3) does. */
  ssize_t n = fd_send(fd, (struct sockaddr *)&addr, addr_len, state, strlen(state), fds, n_fds);
  int saved = errno;
  close(fd);
  if (n < 0) {
    errno = saved;
    return -1;
  }
  return 0;
}

int sd_notify_barrier(const char *socket_path, int timeout_ms) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return -1;
  if (sd_notify_send(socket_path, "BARRIER=1", &p[1], 1) < 0) {
    int saved = errno;
    close(p[0]);
    close(p[1]);
    errno = saved;
    return -1;
  }
  close(p[1]);
  /* The manager closes its copy once it has handled every message before: POLLHUP. */
  struct pollfd pf = {.fd = p[0], .events = 0};
  int r;
  while ((r = poll(&pf, 1, timeout_ms)) < 0 && errno == EINTR) {}
  int saved = errno;
  close(p[0]);
  if (r < 0) return errno = saved, -1;
  if (r == 0) return errno = ETIMEDOUT, -1;
  return 0;
}

uint64_t sd_notify_monotonic_usec(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
