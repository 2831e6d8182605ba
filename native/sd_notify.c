#define _GNU_SOURCE
#include "sd_notify.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int sd_notify_send(const char *socket_path, const char *state) {
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
  ssize_t n;
  do n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr, addr_len);
  while (n < 0 && errno == EINTR);
  int saved = errno;
  close(fd);
  if (n < 0) {
    errno = saved;
    return -1;
  }
  return 0;
}

uint64_t sd_notify_monotonic_usec(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
