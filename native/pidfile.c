#define _GNU_SOURCE
#include "pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safe_open.h"

static pid_t read_pid(int fd) {
  char buf[32];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return 0;
  buf[n] = '\0';
  char *end;
  long v = strtol(buf, &end, 10);
  return v > 0 && (*end == '\n' || *end == '\0') ? (pid_t)v : 0;
}

static int fail_close(int fd, int err) {
  close(fd);
  errno = err;
  return -1;
}

/* True if path still names the file open on fd (it was not removed or replaced meanwhile). */
static int still_named(int fd, const char *path) {
  struct stat a, b;
  return fstat(fd, &a) == 0 && lstat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int pidfile_acquire(const char *path, pid_t pid, pid_t *holder) {
  *holder = 0;
  for (int attempt = 0; attempt < 10; attempt++) {
    int fd = safe_open(path, O_RDWR | O_CREAT, 0644, NULL);
    if (fd < 0) return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
      int err = errno;
      if (err == EWOULDBLOCK) *holder = read_pid(fd);
      return fail_close(fd, err);
    }
    /* The previous holder removed the file between our open and our lock: start again. */
    if (!still_named(fd, path)) {
      close(fd);
      continue;
    }
    char line[32];
    int len = snprintf(line, sizeof line, "%ld\n", (long)pid);
    if (ftruncate(fd, 0) < 0 || pwrite(fd, line, (size_t)len, 0) != len) return fail_close(fd, errno);
    return fd;
  }
  errno = EAGAIN;
  return -1;
}

int pidfile_probe(const char *path, pid_t *pid) {
  *pid = 0;
  int fd = safe_open(path, O_RDONLY, 0, NULL);
  if (fd < 0) return -1;
  *pid = read_pid(fd);
  int locked = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
  close(fd);
  return locked;
}

int pidfile_release(int fd, const char *path) {
  int rc = 0;
  if (still_named(fd, path) && unlink(path) < 0) rc = -1;
  int saved = errno;
  close(fd);
  errno = saved;
  return rc;
}
