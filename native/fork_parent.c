/*
 * fork_parent with re-exec. The parent relays the child's stderr to its own and learns the
 * outcome from a separate ready channel, so "stderr closed because ready" and "stderr closed
 * because the child died" can never be confused (ARCHITECTURE.md §1).
 *
 * Ready channel bytes, child to parent:
 *   'R'                  the daemon is ready (written by fork_parent_ready).
 *   'E' step errno(int)  setting up or exec'ing the child failed (written before _exit).
 *   EOF with nothing     the daemon died, or closed the channel without saying ready.
 */
#define _GNU_SOURCE
#include "fork_parent.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum { STEP_STDIO = 1, STEP_EXEC = 2 };
enum { READY_WAITING, READY_YES, READY_EOF, READY_FAILED };

/* Everything the child needs, prepared before fork so that the child allocates nothing. */
struct plan {
  char **argv;
  char *argv_buf;
  char **envp;
  char marker[64]; /* "FORKD_READY=<pid>:<fd>", written by the child */
  char listen_pid[40]; /* "LISTEN_PID=<pid>", written by the child when fds are handed on */
  int listen_fds; /* socket-activation fds 3..3+n-1 handed on to the daemon */
  int null_fd, out_r, out_w, err_r, err_w, ready_r, ready_w, sig_r, sig_w;
  unsigned max_fd; /* fallback bound for closing fds where close_range is missing */
};

static int sig_pipe_w = -1;
static const int relayed_signals[] = {SIGCHLD, SIGINT, SIGTERM, SIGHUP};
#define N_RELAYED (sizeof relayed_signals / sizeof relayed_signals[0])

static void on_signal(int sig) {
  int saved = errno;
  unsigned char b = (unsigned char)sig;
  if (write(sig_pipe_w, &b, 1) < 0) { /* the pipe is full: a wake-up is pending anyway */
  }
  errno = saved;
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
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

static int pipe_above_stdio(int fds[2], int flags) {
  if (pipe2(fds, O_CLOEXEC | flags) < 0) return -1;
  fds[0] = above_stdio(fds[0]);
  fds[1] = above_stdio(fds[1]);
  if (fds[0] >= 0 && fds[1] >= 0) return 0;
  int saved = errno;
  if (fds[0] >= 0) close(fds[0]);
  if (fds[1] >= 0) close(fds[1]);
  errno = saved;
  return -1;
}

static void close_if_open(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

static void plan_free(struct plan *p) {
  free(p->argv);
  free(p->argv_buf);
  free(p->envp);
  close_if_open(&p->null_fd);
  close_if_open(&p->out_r);
  close_if_open(&p->out_w);
  close_if_open(&p->err_r);
  close_if_open(&p->err_w);
  close_if_open(&p->ready_r);
  close_if_open(&p->ready_w);
  close_if_open(&p->sig_r);
  close_if_open(&p->sig_w);
}

/* argv exactly as the kernel started us: in a single executable it differs from process.argv. */
static int read_cmdline(struct plan *p) {
  int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap + 1);
  for (;;) {
    if (!buf) {
      close(fd);
      errno = ENOMEM;
      return -1;
    }
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      free(buf);
      close(fd);
      errno = e;
      return -1;
    }
    if (n == 0) break;
    len += (size_t)n;
    if (len == cap) {
      char *bigger = realloc(buf, cap * 2 + 1);
      if (!bigger) free(buf);
      buf = bigger;
      cap *= 2;
    }
  }
  close(fd);
  if (len == 0) {
    free(buf);
    errno = ENOEXEC;
    return -1;
  }
  if (buf[len - 1] != '\0') buf[len++] = '\0';
  size_t argc = 0;
  for (size_t i = 0; i < len; i++) argc += buf[i] == '\0';
  p->argv = calloc(argc + 1, sizeof *p->argv);
  if (!p->argv) {
    free(buf);
    errno = ENOMEM;
    return -1;
  }
  size_t k = 0;
  for (size_t i = 0; i < len; i += strlen(buf + i) + 1) p->argv[k++] = buf + i;
  p->argv_buf = buf;
  return 0;
}

static int starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

/*
 * The child's environment: ours, without a stale marker, plus the marker slot. Sockets passed
 * to us by socket activation are handed on to the daemon with LISTEN_PID rewritten to its pid.
 */
static int build_env(struct plan *p) {
  size_t n = 0;
  while (environ[n]) n++;
  p->envp = calloc(n + 3, sizeof *p->envp);
  if (!p->envp) {
    errno = ENOMEM;
    return -1;
  }
  const char *lpid = getenv("LISTEN_PID"), *lfds = getenv("LISTEN_FDS");
  if (lpid && lfds && strtol(lpid, NULL, 10) == (long)getpid()) {
    long nfds = strtol(lfds, NULL, 10);
    if (nfds > 0 && nfds < 4096) p->listen_fds = (int)nfds;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (starts_with(environ[i], FORK_PARENT_MARKER "=")) continue;
    if (p->listen_fds && starts_with(environ[i], "LISTEN_PID=")) continue;
    p->envp[k++] = environ[i];
  }
  p->envp[k++] = p->marker;
  if (p->listen_fds) p->envp[k++] = p->listen_pid;
  p->envp[k] = NULL;
  return 0;
}

static int plan_prepare(struct plan *p) {
  memset(p, 0, sizeof *p);
  p->null_fd = p->out_r = p->out_w = p->err_r = p->err_w = -1;
  p->ready_r = p->ready_w = p->sig_r = p->sig_w = -1;
  struct rlimit rl;
  p->max_fd =
      getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 1u << 20
          ? (unsigned)rl.rlim_cur
          : 1u << 16;
  int fds[2];
  if (read_cmdline(p) < 0 || build_env(p) < 0) return -1;
  p->null_fd = above_stdio(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (p->null_fd < 0) return -1;
  if (pipe_above_stdio(fds, 0) < 0) return -1;
  p->err_r = fds[0], p->err_w = fds[1];
  /* Only the parent reads it: non-blocking, so a burst is drained without a poll per read. */
  if (fcntl(p->err_r, F_SETFL, O_NONBLOCK) < 0) return -1;
  if (pipe_above_stdio(fds, 0) < 0) return -1;
  p->out_r = fds[0], p->out_w = fds[1];
  if (fcntl(p->out_r, F_SETFL, O_NONBLOCK) < 0) return -1;
  if (pipe_above_stdio(fds, 0) < 0) return -1;
  p->ready_r = fds[0], p->ready_w = fds[1];
  if (pipe_above_stdio(fds, O_NONBLOCK) < 0) return -1;
  p->sig_r = fds[0], p->sig_w = fds[1];
  return 0;
}

static void close_range_fallback(unsigned lo, unsigned hi) {
  for (unsigned fd = lo; fd <= hi; fd++) close((int)fd);
}

/* Closes every fd >= lo except keep (which is >= lo). Async-signal-safe. */
static void close_all_but(unsigned lo, unsigned keep, unsigned max_fd) {
#ifdef SYS_close_range
  if ((keep == lo || syscall(SYS_close_range, lo, keep - 1, 0) == 0) &&
      syscall(SYS_close_range, keep + 1, ~0U, 0) == 0)
    return;
#endif
  if (keep > lo) close_range_fallback(lo, keep - 1);
  close_range_fallback(keep + 1, max_fd);
}

static void child_fail(const struct plan *p, unsigned char step) __attribute__((noreturn));
static void child_fail(const struct plan *p, unsigned char step) {
  unsigned char msg[2 + sizeof(int)];
  int err = errno;
  msg[0] = 'E';
  msg[1] = step;
  memcpy(msg + 2, &err, sizeof err);
  if (write(p->ready_w, msg, sizeof msg) < 0) { /* the parent then sees a plain exit */
  }
  _exit(FORK_PARENT_EX_OSERR);
}

/* Runs between fork and execve: async-signal-safe calls only, no allocation. */
static void child_exec(struct plan *p) __attribute__((noreturn));
static void child_exec(struct plan *p) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL);

  setsid();
  if (dup2(p->null_fd, 0) < 0 || dup2(p->out_w, 1) < 0 || dup2(p->err_w, 2) < 0)
    child_fail(p, STEP_STDIO);
  /* Node marks 0..2 close-on-exec; dup2 clears it, and this makes sure. */
  for (int fd = 0; fd <= 2; fd++)
    if (fcntl(fd, F_SETFD, 0) < 0) child_fail(p, STEP_STDIO);
  if (fcntl(p->ready_w, F_SETFD, 0) < 0) child_fail(p, STEP_STDIO);
  /* Node marks inherited fds close-on-exec as well: socket activation's must reach the daemon. */
  for (int fd = 3; fd < 3 + p->listen_fds; fd++)
    if (fcntl(fd, F_SETFD, 0) < 0) child_fail(p, STEP_STDIO);

  unsigned long pid = (unsigned long)getpid();
  char *m = put_str(p->marker, FORK_PARENT_MARKER "=");
  m = put_uint(m, pid);
  *m++ = ':';
  *put_uint(m, (unsigned long)p->ready_w) = '\0';
  if (p->listen_fds) *put_uint(put_str(p->listen_pid, "LISTEN_PID="), pid) = '\0';

  /* Inherited fds must not leak into the daemon; keep only socket activation's and ours. */
  close_all_but(3u + (unsigned)p->listen_fds, (unsigned)p->ready_w, p->max_fd);

  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  execve("/proc/self/exe", p->argv, p->envp);
  child_fail(p, STEP_EXEC);
}

/* Writes all of buf to fd, waiting if it is non-blocking. Returns -1 once fd is unusable. */
static int write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n > 0) {
      buf += n;
      len -= (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      struct pollfd pfd = {.fd = fd, .events = POLLOUT};
      poll(&pfd, 1, -1);
      continue;
    }
    return -1;
  }
  return 0;
}

static void say(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const char *name, const char *fmt, ...) {
  char line[512];
  int n = snprintf(line, sizeof line, "%s: ", name);
  va_list ap;
  va_start(ap, fmt);
  n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  va_end(ap);
  if (n >= (int)sizeof line - 1) n = (int)sizeof line - 2;
  line[n++] = '\n';
  write_all(2, line, (size_t)n);
}

/* One of the child's output pipes and where it goes: its stdout to ours, its stderr to ours. */
struct stream {
  int src, dst;
  int open; /* the pipe has not reached EOF */
  int dst_ok; /* our end still takes bytes */
  int use_splice;
};

struct relay {
  const struct fork_parent_options *opts;
  struct plan *plan;
  pid_t pid;
  struct stream out[2];
  int ready, fail_step, fail_errno, reaped, status;
  int cancel_sig, cancels; /* the first cancelling signal, and how many came */
};

static int input_pending(const struct stream *s) {
  struct pollfd in = {.fd = s->src, .events = POLLIN};
  return poll(&in, 1, 0) > 0 && (in.revents & POLLIN);
}

/*
 * Copies what is available on one of the child's pipes; at EOF stops watching it. Returns the
 * bytes moved, or -1 when there is nothing to move now. splice(2) moves them inside the kernel;
 * where the destination does not take it (EINVAL), read and write do.
 */
static ssize_t relay_some(struct stream *s) {
  while (s->use_splice && s->dst_ok) {
    ssize_t n = splice(s->src, NULL, s->dst, NULL, 1 << 20, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) return n;
    if (n == 0) {
      s->open = 0;
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      if (!input_pending(s)) return -1; /* nothing left to move */
      /* The destination is full (a slow reader): wait for room, as a blocking write would. */
      struct pollfd out = {.fd = s->dst, .events = POLLOUT};
      poll(&out, 1, -1);
      continue;
    }
    if (errno == EPIPE) s->dst_ok = 0; /* from now on read and discard */
    else s->use_splice = 0; /* no splice there (a terminal): read and write */
  }
  char buf[65536];
  ssize_t n = read(s->src, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return -1;
  if (n <= 0) {
    s->open = 0;
    return 0;
  }
  /* Once our end is gone (the terminal hung up), keep reading so the child never blocks. */
  if (s->dst_ok && write_all(s->dst, buf, (size_t)n) < 0) s->dst_ok = 0;
  return n;
}

/* Copies whatever is already in the pipes, without waiting for more. */
static void relay_drain(struct relay *r) {
  for (int i = 0; i < 2; i++)
    while (r->out[i].open && relay_some(&r->out[i]) > 0) {}
}

static void read_ready(struct relay *r) {
  unsigned char msg[2 + sizeof(int)];
  ssize_t n = read(r->plan->ready_r, msg, sizeof msg);
  if (n < 0 && errno == EINTR) return;
  if (n <= 0) {
    r->ready = READY_EOF;
    return;
  }
  if (msg[0] == 'R') {
    r->ready = READY_YES;
    return;
  }
  if (msg[0] == 'E' && n == (ssize_t)sizeof msg) {
    r->ready = READY_FAILED;
    r->fail_step = msg[1];
    memcpy(&r->fail_errno, msg + 2, sizeof(int));
    return;
  }
  r->ready = READY_EOF;
}

static void try_reap(struct relay *r) {
  if (r->reaped) return;
  int status;
  pid_t got;
  do got = waitpid(r->pid, &status, WNOHANG);
  while (got < 0 && errno == EINTR);
  if (got == r->pid) {
    r->reaped = 1;
    r->status = status;
  }
}

/* Empties the self-pipe, counting the signals that cancel the start. */
static void read_signals(struct relay *r) {
  unsigned char sigs[64];
  ssize_t n;
  while ((n = read(r->plan->sig_r, sigs, sizeof sigs)) > 0)
    for (ssize_t i = 0; i < n; i++)
      if (sigs[i] != SIGCHLD) {
        if (!r->cancel_sig) r->cancel_sig = sigs[i];
        r->cancels++;
      }
}

/* One round of waiting: relays output, notes readiness, signals and the child's death. */
static void relay_wait(struct relay *r, long timeout_ms) {
  struct pollfd pfd[4];
  int n = 0, i_out[2] = {-1, -1}, i_ready = -1;
  pfd[n].fd = r->plan->sig_r, pfd[n++].events = POLLIN;
  for (int k = 0; k < 2; k++)
    if (r->out[k].open) i_out[k] = n, pfd[n].fd = r->out[k].src, pfd[n++].events = POLLIN;
  if (r->ready == READY_WAITING)
    i_ready = n, pfd[n].fd = r->plan->ready_r, pfd[n++].events = POLLIN;
  /* After stderr or the channel closes the child is dying: look for it often, not only on SIGCHLD.
   */
  if ((!r->out[1].open || r->ready != READY_WAITING) && (timeout_ms < 0 || timeout_ms > 50))
    timeout_ms = 50;
  int got = poll(pfd, (nfds_t)n, (int)(timeout_ms < 0 ? -1 : timeout_ms));
  if (got < 0) return;
  if (i_ready >= 0 && pfd[i_ready].revents) read_ready(r);
  /* Up to 16 steps on each before looking at signals and readiness again. */
  for (int k = 0; k < 2; k++)
    if (i_out[k] >= 0 && pfd[i_out[k]].revents)
      for (int i = 0; i < 16 && r->out[k].open && relay_some(&r->out[k]) > 0; i++) {}
  if (pfd[0].revents) read_signals(r);
  try_reap(r);
}

static void kill_child(const struct relay *r, int sig) {
  /* The child leads its own process group: stop the helpers it started too. */
  if (kill(-r->pid, sig) < 0) kill(r->pid, sig);
}

/* Stops a child whose start-up is abandoned, relaying what it says on the way out. */
static void stop_child(struct relay *r) {
  kill_child(r, SIGTERM);
  long start = now_ms();
  long deadline = start + (r->opts->stop_grace_ms > 0 ? r->opts->stop_grace_ms : 5000);
  int cancels = r->cancels;
  while (!r->reaped) {
    long left = deadline - now_ms();
    if (left > 0) relay_wait(r, left);
    /* Out of patience, or a second Ctrl-C: do not wait any longer. */
    if (!r->reaped && (deadline - now_ms() <= 0 || r->cancels > cancels)) {
      if (r->cancels > cancels) say(r->opts->name, "cancelled again: killing it (SIGKILL)");
      else
        say(r->opts->name, "still running %ld s after SIGTERM: killing it (SIGKILL)",
            (deadline - start + 999) / 1000);
      kill_child(r, SIGKILL);
      int status;
      while (waitpid(r->pid, &status, 0) < 0 && errno == EINTR) {}
      r->reaped = 1, r->status = status;
    }
  }
  relay_drain(r);
}

const char *fork_parent_signame(int sig, char *buf, size_t len) {
  static const struct {
    int sig;
    const char *name;
  } names[] = {
      {SIGHUP, "SIGHUP"},       {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"},   {SIGILL, "SIGILL"},
      {SIGTRAP, "SIGTRAP"},     {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},     {SIGFPE, "SIGFPE"},
      {SIGKILL, "SIGKILL"},     {SIGUSR1, "SIGUSR1"}, {SIGSEGV, "SIGSEGV"},   {SIGUSR2, "SIGUSR2"},
      {SIGPIPE, "SIGPIPE"},     {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"},   {SIGCHLD, "SIGCHLD"},
      {SIGCONT, "SIGCONT"},     {SIGSTOP, "SIGSTOP"}, {SIGTSTP, "SIGTSTP"},   {SIGTTIN, "SIGTTIN"},
      {SIGTTOU, "SIGTTOU"},     {SIGURG, "SIGURG"},   {SIGXCPU, "SIGXCPU"},   {SIGXFSZ, "SIGXFSZ"},
      {SIGVTALRM, "SIGVTALRM"}, {SIGPROF, "SIGPROF"}, {SIGWINCH, "SIGWINCH"}, {SIGIO, "SIGIO"},
      {SIGPWR, "SIGPWR"},       {SIGSYS, "SIGSYS"},
  };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (names[i].sig == sig) return names[i].name;
  if (sig >= SIGRTMIN && sig <= SIGRTMAX) snprintf(buf, len, "SIGRTMIN+%d", sig - SIGRTMIN);
  else snprintf(buf, len, "signal %d", sig);
  return buf;
}

/* Says what became of the child and chooses the parent's exit code (ARCHITECTURE.md §1's table). */
static void report(struct relay *r, struct fork_parent_result *res) {
  const char *name = r->opts->name;
  char buf[32];
  res->exit_code = 0;
  if (r->ready == READY_FAILED) {
    say(name, "cannot %s: %s",
        r->fail_step == STEP_EXEC ? "re-execute /proc/self/exe"
                                  : "give the daemon /dev/null and the relay pipes as stdio",
        strerror(r->fail_errno));
    res->exit_code = FORK_PARENT_EX_OSERR;
  } else if (WIFSIGNALED(r->status)) {
    int sig = WTERMSIG(r->status);
    say(name, "killed by %s%s during start-up", fork_parent_signame(sig, buf, sizeof buf),
        WCOREDUMP(r->status) ? " (core dumped)" : "");
    res->exit_code = FORK_PARENT_EX_SOFTWARE;
  } else if (WEXITSTATUS(r->status) == 0) {
    say(name, "exited with code 0 during start-up, before it was ready");
    res->exit_code = FORK_PARENT_EX_SOFTWARE;
  } else {
    say(name, "exited with code %d during start-up", WEXITSTATUS(r->status));
    res->exit_code = WEXITSTATUS(r->status);
  }
}

static void relay_run(struct relay *r, struct fork_parent_result *res) {
  long timeout = r->opts->ready_timeout_ms;
  long deadline = timeout > 0 ? now_ms() + timeout : -1;
  for (;;) {
    if (r->ready == READY_YES) {
      relay_drain(r);
      return;
    }
    if (r->cancel_sig) {
      char buf[32];
      stop_child(r);
      say(r->opts->name, "start-up cancelled by %s",
          fork_parent_signame(r->cancel_sig, buf, sizeof buf));
      res->raise_signal = r->cancel_sig;
      res->exit_code = 128 + r->cancel_sig;
      return;
    }
    if (r->reaped) {
      /* A child may say ready and exit within one round: read what it left on the channel
       * before judging (its end is closed now, so this cannot block). */
      if (r->ready == READY_WAITING) {
        struct pollfd pr = {.fd = r->plan->ready_r, .events = POLLIN};
        if (poll(&pr, 1, 0) > 0) read_ready(r);
        if (r->ready == READY_YES) continue;
      }
      relay_drain(r);
      /* Helpers it started in its process group would outlive a failed start: not those. */
      kill(-r->pid, SIGKILL);
      report(r, res);
      return;
    }
    long left = deadline < 0 ? -1 : deadline - now_ms();
    if (deadline >= 0 && left <= 0) {
      /* The wait as given: "1 s", "1.5 s", "0.1 s", never rounded up to a second it was not. */
      char waited[32];
      if (timeout % 1000 == 0) snprintf(waited, sizeof waited, "%ld", timeout / 1000);
      else snprintf(waited, sizeof waited, "%ld.%03ld", timeout / 1000, timeout % 1000);
      for (size_t n = strlen(waited); timeout % 1000 && waited[n - 1] == '0'; n--)
        waited[n - 1] = '\0';
      say(r->opts->name,
          "not ready after %s s; stopping it (a slow start needs a longer "
          "--ready-timeout)",
          waited);
      stop_child(r);
      res->exit_code = FORK_PARENT_EX_UNAVAILABLE;
      return;
    }
    relay_wait(r, left);
  }
}

int fork_parent(const struct fork_parent_options *opts, struct fork_parent_result *res) {
  struct plan plan;
  memset(res, 0, sizeof *res);
  if (plan_prepare(&plan) < 0) {
    int saved = errno;
    plan_free(&plan);
    errno = saved;
    return -1;
  }

  /* Handlers go in before fork, so a SIGCHLD taken by another thread is never lost. */
  sigset_t all, old_mask;
  struct sigaction sa, old_sa[N_RELAYED];
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old_mask);
  sig_pipe_w = plan.sig_w;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  for (size_t i = 0; i < N_RELAYED; i++) sigaction(relayed_signals[i], &sa, &old_sa[i]);

  pid_t pid = fork();
  if (pid == 0) child_exec(&plan);
  int fork_errno = errno;
  close_if_open(&plan.out_w);
  close_if_open(&plan.err_w);
  close_if_open(&plan.ready_w);
  close_if_open(&plan.null_fd);
  if (pid > 0) pthread_sigmask(SIG_SETMASK, &old_mask, NULL);

  if (pid > 0) {
    struct relay r;
    memset(&r, 0, sizeof r);
    r.opts = opts, r.plan = &plan, r.pid = pid;
    r.out[0] =
        (struct stream){.src = plan.out_r, .dst = 1, .open = 1, .dst_ok = 1, .use_splice = 1};
    r.out[1] =
        (struct stream){.src = plan.err_r, .dst = 2, .open = 1, .dst_ok = 1, .use_splice = 1};
    r.ready = READY_WAITING;
    res->pid = pid;
    relay_run(&r, res);
  }

  pthread_sigmask(SIG_SETMASK, &all, NULL);
  for (size_t i = 0; i < N_RELAYED; i++) sigaction(relayed_signals[i], &old_sa[i], NULL);
  sig_pipe_w = -1;
  plan_free(&plan);
  pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
  if (pid < 0) {
    errno = fork_errno;
    return -1;
  }
  return 0;
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
