/* The exec plan: argv, environment and fds for the child, prepared before fork (exec_plan.h). */
#define _GNU_SOURCE
#include "exec_plan.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

static int sig_pipe_w = -1;
static const int caught[PLAN_N_SIGNALS] = {SIGCHLD, SIGINT, SIGTERM, SIGHUP};

static void on_signal(int sig) {
  int saved = errno;
  unsigned char b = (unsigned char)sig;
  if (write(sig_pipe_w, &b, 1) < 0) { /* the pipe is full: a wake-up is pending anyway */
  }
  errno = saved;
}

void plan_catch_signals(struct plan *p) {
  sigset_t all;
  struct sigaction sa;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &p->old_mask);
  sig_pipe_w = p->sig_w;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  for (int i = 0; i < PLAN_N_SIGNALS; i++) sigaction(caught[i], &sa, &p->old_sa[i]);
}

void plan_unblock_signals(const struct plan *p) {
  pthread_sigmask(SIG_SETMASK, &p->old_mask, NULL);
}

void plan_release_signals(struct plan *p) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, NULL);
  for (int i = 0; i < PLAN_N_SIGNALS; i++) sigaction(caught[i], &p->old_sa[i], NULL);
  sig_pipe_w = -1;
  plan_unblock_signals(p);
}

/* Async-signal-safe: writes the decimal digits of v at p, returns the end. */
static char *put_uint(char *p, unsigned long v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) *p++ = tmp[--n];
  return p;
}

static char *put_str(char *p, const char *s) {
  while (*s) *p++ = *s++;
  return p;
}

/* Moves fd to a number >= 3 so that the child's dup2 onto 0..2 can never clobber it. */
static int above_stdio(int fd) {
  if (fd < 0 || fd > 2) return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  int saved = errno;
  close(fd);
  errno = saved;
  return moved;
}

static int pipe_above_stdio(int *r, int *w, int flags) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | flags) < 0) return -1;
  *r = above_stdio(fds[0]);
  *w = above_stdio(fds[1]);
  return *r >= 0 && *w >= 0 ? 0 : -1; /* plan_free closes whichever was opened */
}

void plan_close(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

void plan_free(struct plan *p) {
  int saved = errno;
  free(p->argv);
  free(p->argv_buf);
  free(p->envp);
  p->argv = p->envp = NULL;
  p->argv_buf = NULL;
  int *fds[] = {&p->null_fd, &p->out_r,   &p->out_w, &p->err_r, &p->err_w,
                &p->ready_r, &p->ready_w, &p->sig_r, &p->sig_w};
  for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) plan_close(fds[i]);
  errno = saved;
}

/* Reads all of fd into a malloc'd buffer with room for one more byte. */
static char *read_all(int fd, size_t *len) {
  size_t cap = 4096;
  char *buf = malloc(cap + 1);
  *len = 0;
  while (buf) {
    ssize_t n = read(fd, buf + *len, cap - *len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      free(buf);
      errno = e;
      return NULL;
    }
    if (n == 0) return buf;
    *len += (size_t)n;
    if (*len == cap) {
      char *bigger = realloc(buf, cap * 2 + 1);
      if (!bigger) free(buf);
      buf = bigger;
      cap *= 2;
    }
  }
  errno = ENOMEM;
  return NULL;
}

/* argv exactly as the kernel started us: in a single executable it differs from process.argv. */
static int read_cmdline(struct plan *p, int drop_arg) {
  int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len;
  char *buf = read_all(fd, &len);
  int saved = errno;
  close(fd);
  errno = saved;
  if (!buf) return -1;
  p->argv_buf = buf;
  if (len == 0) {
    errno = ENOEXEC;
    return -1;
  }
  if (buf[len - 1] != '\0') buf[len++] = '\0';
  size_t argc = 0;
  for (size_t i = 0; i < len; i++) argc += buf[i] == '\0';
  p->argv = calloc(argc + 1, sizeof *p->argv);
  if (!p->argv) {
    errno = ENOMEM;
    return -1;
  }
  size_t k = 0;
  for (size_t i = 0; i < len; i += strlen(buf + i) + 1) p->argv[k++] = buf + i;
  /* A restart's successor runs our command line without the word "restart". */
  if (drop_arg > 0 && (size_t)drop_arg < argc) {
    for (size_t j = argc - (size_t)drop_arg; j < argc; j++) p->argv[j] = p->argv[j + 1];
  }
  return 0;
}

/* True if s is "name=..." */
static int is_var(const char *s, const char *name) {
  size_t n = strlen(name);
  return strncmp(s, name, n) == 0 && s[n] == '=';
}

/*
 * The child's environment: ours, without a stale marker, plus the marker slot. Sockets passed
 * to us by socket activation are handed on to the daemon with LISTEN_PID rewritten to its pid.
 */
static int build_env(struct plan *p, const char *marker_name, const struct plan_restart *r) {
  size_t n = 0;
  while (environ[n]) n++;
  p->envp = calloc(n + 5, sizeof *p->envp);
  if (!p->envp) {
    errno = ENOMEM;
    return -1;
  }
  const char *lpid = getenv("LISTEN_PID"), *lfds = getenv("LISTEN_FDS");
  int restart = r && r->n_listen_fds > 0;
  if (restart) {
    p->listen_fds = r->n_listen_fds;
    p->move_fds = r->listen_fds;
    snprintf(p->listen_count, sizeof p->listen_count, "LISTEN_FDS=%d",
             r->n_listen_fds - r->n_extra_fds);
  } else if (lpid && lfds && strtol(lpid, NULL, 10) == (long)getpid()) {
    long nfds = strtol(lfds, NULL, 10);
    if (nfds > 0 && nfds < 4096) p->listen_fds = (int)nfds;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (is_var(environ[i], marker_name)) continue;
    if (p->listen_fds && is_var(environ[i], "LISTEN_PID")) continue;
    /* A restart's sockets are the old daemon's: names and counts from elsewhere do not apply. */
    if (restart && (is_var(environ[i], "LISTEN_FDS") || is_var(environ[i], "LISTEN_FDNAMES")))
      continue;
    if (r && r->extra_env && strchr(r->extra_env, '=') &&
        strncmp(environ[i], r->extra_env, (size_t)(strchr(r->extra_env, '=') - r->extra_env + 1)) ==
            0)
      continue;
    p->envp[k++] = environ[i];
  }
  p->envp[k++] = p->marker;
  if (p->listen_fds) p->envp[k++] = p->listen_pid;
  if (restart) p->envp[k++] = p->listen_count;
  if (r && r->extra_env) p->envp[k++] = (char *)r->extra_env;
  p->envp[k] = NULL;
  return 0;
}

/* Runs call; on failure records what failed and returns -1. */
#define STEP(call, what)       \
  do {                         \
    if ((call) < 0) {          \
      p->failed_call = (what); \
      return -1;               \
    }                          \
  } while (0)

int plan_prepare(struct plan *p, const char *marker_name, const struct plan_restart *restart) {
  memset(p, 0, sizeof *p);
  p->exec_path = restart && restart->exec_path ? restart->exec_path : "/proc/self/exe";
  p->null_fd = p->out_r = p->out_w = p->err_r = p->err_w = -1;
  p->ready_r = p->ready_w = p->sig_r = p->sig_w = -1;
  struct rlimit rl;
  p->max_fd =
      getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 1u << 20
          ? (unsigned)rl.rlim_cur
          : 1u << 16;
  STEP(read_cmdline(p, restart ? restart->drop_arg : 0), "read /proc/self/cmdline");
  STEP(build_env(p, marker_name, restart), "environment");
  STEP(p->null_fd = above_stdio(open("/dev/null", O_RDWR | O_CLOEXEC)), "open /dev/null");
  /* Only the parent reads them: non-blocking, so a burst is drained without a poll per read. */
  STEP(pipe_above_stdio(&p->err_r, &p->err_w, 0), "pipe");
  STEP(fcntl(p->err_r, F_SETFL, O_NONBLOCK), "fcntl");
  STEP(pipe_above_stdio(&p->out_r, &p->out_w, 0), "pipe");
  STEP(fcntl(p->out_r, F_SETFL, O_NONBLOCK), "fcntl");
  STEP(pipe_above_stdio(&p->ready_r, &p->ready_w, 0), "pipe");
  STEP(pipe_above_stdio(&p->sig_r, &p->sig_w, O_NONBLOCK), "pipe");
  return 0;
}

void plan_write_marker(struct plan *p, const char *marker_name, unsigned long pid) {
  char *m = put_str(put_str(p->marker, marker_name), "=");
  m = put_uint(m, pid);
  *m++ = ':';
  *put_uint(m, (unsigned long)p->ready_w) = '\0';
  if (p->listen_fds) *put_uint(put_str(p->listen_pid, "LISTEN_PID="), pid) = '\0';
}

static void close_range_fallback(unsigned lo, unsigned hi) {
  for (unsigned fd = lo; fd <= hi; fd++) close((int)fd);
}

void plan_close_inherited(const struct plan *p, int keep_fd) {
  unsigned lo = 3u + (unsigned)p->listen_fds, keep = (unsigned)keep_fd;
#ifdef SYS_close_range
  if ((keep == lo || syscall(SYS_close_range, lo, keep - 1, 0) == 0) &&
      syscall(SYS_close_range, keep + 1, ~0U, 0) == 0)
    return;
#endif
  if (keep > lo) close_range_fallback(lo, keep - 1);
  close_range_fallback(keep + 1, p->max_fd);
}

int plan_move_fds(struct plan *p, int *keep) {
  if (!p->move_fds) {
    /* Node marks inherited fds close-on-exec too: socket activation's must reach the daemon. */
    for (int fd = 3; fd < 3 + p->listen_fds; fd++)
      if (fcntl(fd, F_SETFD, 0) < 0) return -1;
    return 0;
  }
  int n = p->listen_fds;
  if (n == 0) return 0;
  int low = 3 + n;
  /* keep (the ready channel) and every source first go above the target range, so that no
   * dup2 below overwrites one not yet moved. F_DUPFD clears close-on-exec; the copies are
   * closed by plan_close_inherited. */
  if (*keep < low && (*keep = fcntl(*keep, F_DUPFD, low)) < 0) return -1;
  int moved[64];
  if (n > 64) return errno = EINVAL, -1;
  for (int i = 0; i < n; i++)
    if ((moved[i] = fcntl(p->move_fds[i], F_DUPFD_CLOEXEC, low)) < 0) return -1;
  for (int i = 0; i < n; i++)
    if (dup2(moved[i], 3 + i) < 0) return -1;
  return 0;
}
