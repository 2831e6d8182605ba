#define _GNU_SOURCE
#include "pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "safe_open.h"

/* The pid in the file: decimal digits and a newline, > 1; anything else (empty, garbage) is 0. */
static pid_t read_pid(int fd) {
  char buf[32];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return 0;
  buf[n] = '\0';
  if (buf[0] < '0' || buf[0] > '9') return 0;
  char *end;
  errno = 0;
  long v = strtol(buf, &end, 10);
  if (errno || v <= 1 || v > INT_MAX || !(*end == '\n' || *end == '\0')) return 0;
  return (pid_t)v;
}

static int fail_close(int fd, int err) {
  if (fd >= 0) close(fd);
  errno = err;
  return -1;
}

/* True if path still names the file open on fd (it was not removed or replaced meanwhile). */
static int still_named(int fd, const char *path) {
  struct stat a, b;
  return fstat(fd, &a) == 0 && lstat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/*
 * The new pid file, complete and locked before it has a name: unnamed (O_TMPFILE) where the
 * file system allows, else under a temporary name in the same directory (*tmp_name set).
 */
static int prepare(const char *path, pid_t pid, char *tmp_name, size_t tmp_len) {
  char copy[PATH_MAX];
  tmp_name[0] = '\0';
  if (snprintf(copy, sizeof copy, "%s", path) >= (int)sizeof copy) return errno = ENAMETOOLONG, -1;
  const char *dir = dirname(copy);
  int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
    char base_copy[PATH_MAX];
    snprintf(base_copy, sizeof base_copy, "%s", path);
    if (snprintf(tmp_name, tmp_len, "%s/.%s.%ld.new", dir, basename(base_copy), (long)getpid()) >=
        (int)tmp_len)
      return errno = ENAMETOOLONG, -1;
    unlink(tmp_name); /* left by a process of this pid that died here */
    fd = open(tmp_name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) tmp_name[0] = '\0';
  }
  if (fd < 0) return -1;
  char line[32];
  int len = snprintf(line, sizeof line, "%ld\n", (long)pid);
  if (pwrite(fd, line, (size_t)len, 0) != len || flock(fd, LOCK_EX | LOCK_NB) < 0) {
    int err = errno;
    if (tmp_name[0]) unlink(tmp_name), tmp_name[0] = '\0';
    return fail_close(fd, err);
  }
  return fd;
}

/* Gives the prepared file its name; fails with EEXIST if path exists. */
static int name_it(int fd, const char *tmp_name, const char *path) {
  if (tmp_name[0]) return link(tmp_name, path);
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0) return 0;
  if (errno != ENOENT) return -1;
  return linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH); /* no /proc: root can still do it */
}

/*
 * Starters that remove a stale file take turns by a lock on the directory, which a reader of the
 * pid file never looks at. Returns the locked directory fd, or -1 (unreadable directory, or
 * held for over a second by something else).
 */
static int lock_dir(const char *path) {
  char copy[PATH_MAX];
  if (snprintf(copy, sizeof copy, "%s", path) >= (int)sizeof copy) return -1;
  int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return -1;
  for (int attempt = 0; attempt < 500; attempt++) {
    if (flock(dfd, LOCK_EX | LOCK_NB) == 0) return dfd;
    if (errno != EWOULDBLOCK) break;
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  close(dfd);
  return -1;
}

/*
 * Removes a stale pid file at path (if only > 0: only one that names the pid only). Returns 1
 * (removed), 0 (not there, or naming another pid), or -1 with EWOULDBLOCK and *holder when a
 * live process holds it. Under the directory lock a shared lock on the file suffices to see
 * that no daemon holds it, and a reader (who takes a shared lock to look) never sees it locked
 * while it is stale. Without the directory lock, an exclusive lock on the file
 * keeps two starters from removing each other's new file; a reader may then see it locked for a
 * moment, which pidfile_probe waits out.
 */
static int remove_stale(const char *path, pid_t only, pid_t *holder) {
  int dfd = lock_dir(path);
  int fd = safe_open(path, O_RDONLY, 0, NULL);
  int rc = 0, err = 0;
  if (fd < 0) {
    if (errno != ENOENT) rc = -1, err = errno;
  } else if (flock(fd, (dfd >= 0 ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
    rc = -1, err = errno;
    if (err == EWOULDBLOCK) *holder = read_pid(fd);
  } else if ((only <= 0 || read_pid(fd) == only) && still_named(fd, path)) {
    if (unlink(path) == 0) rc = 1;
    else if (errno != ENOENT) rc = -1, err = errno;
  }
  if (fd >= 0) close(fd);
  if (dfd >= 0) close(dfd);
  errno = err;
  return rc;
}

int pidfile_acquire(const char *path, pid_t pid, pid_t *holder) {
  *holder = 0;
  char tmp_name[PATH_MAX];
  int fd = prepare(path, pid, tmp_name, sizeof tmp_name);
  if (fd < 0) return -1;
  int rc = -1, err = EAGAIN;
  for (int attempt = 0; attempt < 10; attempt++) {
    if (name_it(fd, tmp_name, path) == 0) {
      rc = 0;
      break;
    }
    err = errno;
    if (err != EEXIST) break;
    if (remove_stale(path, 0, holder) < 0) {
      err = errno;
      break;
    }
    err = EAGAIN;
  }
  if (tmp_name[0]) unlink(tmp_name);
  if (rc < 0) return fail_close(fd, err);
  return fd;
}

/* The pid that holds a flock on the file open on fd, from /proc/locks; 0 if none is listed. */
static pid_t lock_holder(int fd) {
  struct stat st;
  if (fstat(fd, &st) < 0) return 0;
  FILE *f = fopen("/proc/locks", "re");
  if (!f) return 0;
  char line[256];
  pid_t by_dev = 0, by_ino = 0;
  int ino_only_ambiguous = 0;
  while (fgets(line, sizeof line, f)) {
    /* "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; waiters are listed with "->". */
    char kind[16], mode[16], access[16];
    int pid;
    unsigned maj, min;
    unsigned long ino;
    if (strstr(line, "->")) continue;
    const char *p = strchr(line, ':');
    if (!p || sscanf(p + 1, "%15s %15s %15s %d %x:%x:%lu", kind, mode, access, &pid, &maj, &min,
                     &ino) != 7)
      continue;
    if (strcmp(kind, "FLOCK") != 0 || strcmp(access, "WRITE") != 0 ||
        ino != (unsigned long)st.st_ino)
      continue;
    if (maj == major(st.st_dev) && min == minor(st.st_dev)) by_dev = pid;
    else if (by_ino && by_ino != pid) ino_only_ambiguous = 1;
    else by_ino = pid;
  }
  fclose(f);
  /* Some file systems (btrfs subvolumes, overlayfs) report another device in stat. */
  return by_dev ? by_dev : ino_only_ambiguous ? 0 : by_ino;
}

int pidfile_probe(const char *path, pid_t *pid, pid_t *holder) {
  int locked = 0;
  /* A starter removing a stale file holds its lock for a moment: a consistent view comes soon. */
  for (int attempt = 0; attempt < 50; attempt++) {
    *pid = 0, *holder = 0;
    int fd = safe_open(path, O_RDONLY, 0, NULL);
    if (fd < 0) return -1;
    *pid = read_pid(fd);
    locked = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
    if (locked) *holder = lock_holder(fd);
    /* Unlocked, but replaced meanwhile (a restart's successor renamed its file over this one,
     * and the old daemon has exited since): look at the file the path names now. */
    int replaced = !locked && !still_named(fd, path);
    close(fd);
    if (replaced) continue;
    if (!locked || (*pid > 1 && *holder == *pid)) break;
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
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

int pidfile_remove_stale(const char *path, pid_t pid) {
  pid_t holder = 0;
  int rc = remove_stale(path, pid, &holder);
  /* Held by someone, no such path, or not a file we could have made (a directory, a symlink):
   * not the child's. */
  if (rc < 0 && (errno == EWOULDBLOCK || errno == ENOENT || errno == ENOTDIR || errno == ELOOP ||
                 errno == EISDIR || errno == EINVAL || errno == EMLINK || errno == ENAMETOOLONG))
    return 0;
  return rc;
}

int pidfile_prepare_successor(const char *path, pid_t pid) {
  char tmp_name[PATH_MAX];
  int fd = prepare(path, pid, tmp_name, sizeof tmp_name);
  if (fd >= 0 && tmp_name[0]) {
    /* No O_TMPFILE here: a named file would be left by a successor that dies. */
    unlink(tmp_name);
    return fail_close(fd, EOPNOTSUPP);
  }
  return fd;
}

int pidfile_take_over(int fd, const char *path) {
  char copy[PATH_MAX], base_copy[PATH_MAX], tmp[PATH_MAX], proc[64];
  snprintf(copy, sizeof copy, "%s", path);
  snprintf(base_copy, sizeof base_copy, "%s", path);
  if (snprintf(tmp, sizeof tmp, "%s/.%s.%ld.new", dirname(copy), basename(base_copy),
               (long)getpid()) >= (int)sizeof tmp)
    return errno = ENAMETOOLONG, -1;
  unlink(tmp); /* left by a process of this pid that died here */
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) < 0 &&
      (errno != ENOENT || linkat(fd, "", AT_FDCWD, tmp, AT_EMPTY_PATH) < 0))
    return -1;
  if (rename(tmp, path) < 0) {
    int err = errno;
    unlink(tmp);
    errno = err;
    return -1;
  }
  return 0;
}
