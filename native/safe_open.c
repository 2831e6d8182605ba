#define _GNU_SOURCE
#include "safe_open.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail_close(int fd, int err) {
  close(fd);
  errno = err;
  return -1;
}

static int open_file(const char *path, int flags, mode_t mode) {
  int fd = open(path, flags, mode);
  /* A FIFO without a reader, or a socket, opened for writing: not a regular file either. */
  if (fd < 0 && errno == ENXIO) errno = EINVAL;
  return fd;
}

int safe_open(const char *path, int flags, mode_t mode, int *created) {
  int fd = -1, made = 0;
  /* O_NONBLOCK keeps a FIFO planted at path from hanging the open; cleared once it is a file. */
  flags |= O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
  if (flags & O_CREAT) {
    /* O_EXCL tells "created now" from "was there"; a removal in between just goes round again. */
    for (int attempt = 0; attempt < 10 && fd < 0; attempt++) {
      fd = open_file(path, flags | O_EXCL, mode);
      if (fd >= 0) {
        made = 1;
        break;
      }
      if (errno != EEXIST) return -1;
      fd = open_file(path, flags & ~O_CREAT, 0);
      if (fd < 0 && errno != ENOENT) return -1;
    }
    if (fd < 0) return -1;
  } else {
    fd = open_file(path, flags, 0);
    if (fd < 0) return -1;
  }
  struct stat st;
  if (fstat(fd, &st) < 0) return fail_close(fd, errno);
  if (S_ISDIR(st.st_mode)) return fail_close(fd, EISDIR);
  if (!S_ISREG(st.st_mode)) return fail_close(fd, EINVAL);
  if (st.st_nlink > 1) return fail_close(fd, EMLINK);
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) return fail_close(fd, errno);
  if (created) *created = made;
  return fd;
}

int safe_open_log(const char *path, uid_t uid, gid_t gid) {
  int created = 0;
  int fd = safe_open(path, O_WRONLY | O_APPEND | O_CREAT, 0640, &created);
  if (fd < 0) return -1;
  if (created && uid != (uid_t)-1 && geteuid() == 0 && fchown(fd, uid, gid) < 0) {
    int err = errno;
    unlink(path); /* ours, just made: leave nothing half set up behind */
    return fail_close(fd, err);
  }
  return fd;
}
