/* The daemon's stdout and stderr after ready, to syslog: see syslog_relay.h. */
#define _GNU_SOURCE
#include "syslog_relay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { LINE_BYTES = 4096, FACILITY_DAEMON = 3 << 3, LOG_ERR = 3, LOG_INFO = 6 };

/* What the relay needs, prepared before the fork: after it, only async-signal-safe calls. */
static struct {
  struct sockaddr_un addr;
  char tag[64]; /* "IDENT[PID]: " */
  size_t tag_len;
  char comm[16]; /* "IDENT-log" */
} relay;

struct stream {
  int fd;
  int level; /* for lines without a "<N>" prefix */
  int cont; /* the level of a line sent in pieces so far, for its next piece; else -1 */
  size_t len;
  char buf[LINE_BYTES];
};

static int connect_log(void) {
  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  if (connect(s, (const struct sockaddr *)&relay.addr, sizeof relay.addr) < 0) {
    int err = errno;
    close(s);
    errno = err;
    return -1;
  }
  return s;
}

/* Sends one line, or one piece of a long one, with the line's level: from its "<N>" prefix when
 * prefixed (its first piece), else level. Returns the level used. A full socket is waited out for
 * up to a second; a restarted syslog is reconnected once. */
static int send_line(int *sock, int level, int prefixed, const char *line, size_t len) {
  if (prefixed && len >= 3 && line[0] == '<' && line[1] >= '0' && line[1] <= '7' && line[2] == '>')
    level = line[1] - '0', line += 3, len -= 3;
  char msg[8 + sizeof relay.tag + LINE_BYTES];
  int pri = FACILITY_DAEMON | level;
  size_t n = 0;
  msg[n++] = '<';
  if (pri >= 10) msg[n++] = (char)('0' + pri / 10);
  msg[n++] = (char)('0' + pri % 10);
  msg[n++] = '>';
  memcpy(msg + n, relay.tag, relay.tag_len);
  n += relay.tag_len;
  memcpy(msg + n, line, len);
  n += len;
  /* After a line was lost to a full socket, lines are tried once each until one goes through: a
   * syslog that has stopped reading costs lines, never a stalled daemon. */
  static int stalled;
  for (int tries = 0, reconnected = 0;; tries++) {
    if (*sock >= 0 && send(*sock, msg, n, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0) {
      stalled = 0;
      break;
    }
    if (*sock >= 0 && errno == EINTR) continue;
    if (*sock >= 0 && (errno == EAGAIN || errno == ENOBUFS)) {
      if (stalled || tries >= 100) {
        stalled = 1;
        break;
      }
      struct timespec pause = {0, 10 * 1000 * 1000};
      nanosleep(&pause, NULL);
      continue;
    }
    if (reconnected ||
        (*sock >= 0 && errno != ECONNREFUSED && errno != ENOTCONN && errno != ECONNRESET))
      break; /* the line is lost; the next one tries again */
    if (*sock >= 0) close(*sock);
    *sock = connect_log();
    reconnected = 1;
  }
  return level;
}

/* Sends the complete lines in s->buf (all of it at end of file). A full buffer with no newline is
 * sent as a piece of its line, whose level the later pieces keep; the newline that ends such a
 * line adds no empty message. */
static void flush_lines(struct stream *s, int *sock, int eof) {
  size_t start = 0;
  for (size_t i = 0; i <= s->len; i++) {
    int end = i < s->len ? s->buf[i] == '\n' : eof && start < s->len;
    if (!end) continue;
    if (s->cont < 0) send_line(sock, s->level, 1, s->buf + start, i - start);
    else if (i > start) send_line(sock, s->cont, 0, s->buf + start, i - start);
    s->cont = -1;
    start = i + 1;
  }
  if (start > s->len) start = s->len;
  if (start == 0 && s->len == sizeof s->buf) {
    s->cont = send_line(sock, s->cont < 0 ? s->level : s->cont, s->cont < 0, s->buf, s->len);
    start = s->len;
  }
  memmove(s->buf, s->buf + start, s->len - start);
  s->len -= start;
}

static void close_from(int lowest) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, lowest, ~0U, 0) == 0) return;
#endif
  struct rlimit lim;
  rlim_t top =
      getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY ? lim.rlim_cur : 1 << 20;
  if (top > 1 << 20) top = 1 << 20;
  for (int fd = lowest; fd < (int)top; fd++) close(fd);
}

/* The relay process: fds 0 and 1 are the stdout and stderr pipes, 2 the syslog socket. */
static void relay_main(void) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
  /* It ends when the daemon's output does (end of file): a signal meant for the daemon's name
   * (pkill, killall) must not cut the daemon's output off. */
  signal(SIGHUP, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_NAME, relay.comm, 0, 0, 0);
  static struct stream streams[2] = {{.fd = 0, .level = LOG_INFO, .cont = -1},
                                     {.fd = 1, .level = LOG_ERR, .cont = -1}};
  int sock = 2, open_streams = 2;
  while (open_streams > 0) {
    struct pollfd p[2];
    for (int i = 0; i < 2; i++) p[i] = (struct pollfd){.fd = streams[i].fd, .events = POLLIN};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      _exit(1);
    }
    for (int i = 0; i < 2; i++) {
      struct stream *s = &streams[i];
      if (s->fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = read(s->fd, s->buf + s->len, sizeof s->buf - s->len);
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got <= 0) {
        flush_lines(s, &sock, 1);
        close(s->fd);
        s->fd = -1;
        open_streams--;
        continue;
      }
      s->len += (size_t)got;
      flush_lines(s, &sock, 0);
    }
  }
  _exit(0);
}

int syslog_relay_start(const char *ident, const char *socket_path, int *out_fd, int *err_fd) {
  memset(&relay, 0, sizeof relay);
  relay.addr.sun_family = AF_UNIX;
  if (strlen(socket_path) >= sizeof relay.addr.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  strcpy(relay.addr.sun_path, socket_path);
  int tag = snprintf(relay.tag, sizeof relay.tag, "%.32s[%ld]: ", ident, (long)getpid());
  relay.tag_len = tag > 0 && (size_t)tag < sizeof relay.tag ? (size_t)tag : 0;
  snprintf(relay.comm, sizeof relay.comm, "%.11s-log", ident);

  int out[2] = {-1, -1}, err[2] = {-1, -1}, sock = connect_log();
  if (sock < 0) return -1;
  if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) goto fail;
  pid_t middle = fork();
  if (middle < 0) goto fail;
  if (middle == 0) {
    pid_t relay_pid = fork(); /* the relay's parent goes at once: init adopts the relay */
    if (relay_pid != 0) _exit(relay_pid < 0 ? 1 : 0);
    int fds[3] = {fcntl(out[0], F_DUPFD, 10), fcntl(err[0], F_DUPFD, 10), fcntl(sock, F_DUPFD, 10)};
    for (int i = 0; i < 3; i++)
      if (fds[i] < 0 || dup2(fds[i], i) < 0) _exit(1);
    close_from(3);
    relay_main();
  }
  int status = 0;
  while (waitpid(middle, &status, 0) < 0 && errno == EINTR) {}
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    errno = EAGAIN; /* the second fork failed: no relay runs */
    goto fail;
  }
  close(out[0]);
  close(err[0]);
  close(sock);
  *out_fd = out[1];
  *err_fd = err[1];
  return 0;

fail : {
  int saved = errno;
  int fds[5] = {out[0], out[1], err[0], err[1], sock};
  for (int i = 0; i < 5; i++)
    if (fds[i] >= 0) close(fds[i]);
  errno = saved;
  return -1;
}
}
