/* The ready channel's bytes, both ends (ready_channel.h). */
#include "ready_channel.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fork_parent.h"

void ready_channel_fail(int fd, unsigned char step) {
  unsigned char msg[2 + sizeof(int)];
  int err = errno;
  msg[0] = 'E';
  msg[1] = step;
  memcpy(msg + 2, &err, sizeof err);
  if (write(fd, msg, sizeof msg) < 0) { /* the parent then sees a plain exit */
  }
  errno = err;
}

enum ready_state ready_channel_read(int fd, int *step, int *err) {
  unsigned char msg[2 + sizeof(int)];
  ssize_t n = read(fd, msg, sizeof msg);
  if (n < 0 && errno == EINTR) return READY_WAITING;
  if (n > 0 && msg[0] == 'R') return READY_YES;
  if (n != (ssize_t)sizeof msg || msg[0] != 'E') return READY_EOF;
  *step = msg[1];
  memcpy(err, msg + 2, sizeof(int));
  return READY_FAILED;
}

int fork_parent_claim(int fd) {
  struct stat st;
  if (fstat(fd, &st) < 0) return -1;
  if (!S_ISFIFO(st.st_mode)) {
    errno = ENOTTY;
    return -1;
  }
  return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

int fork_parent_ready(int fd) {
  const char r = 'R';
  ssize_t n;
  do n = write(fd, &r, 1);
  while (n < 0 && errno == EINTR);
  int saved = errno;
  close(fd);
  if (n == 1) return 0;
  errno = saved;
  return -1;
}
