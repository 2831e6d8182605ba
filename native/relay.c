/* The relay: byte moving from the child's pipes to our stdout and stderr (relay.h). */
#define _GNU_SOURCE
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

void stream_init(struct stream *s, int src, int dst) {
  s->src = src;
  s->dst = dst;
  s->open = 1;
  s->dst_ok = 1;
  s->use_splice = 1;
}

static void wait_for(int fd, short events) {
  struct pollfd pfd = {.fd = fd, .events = events};
  poll(&pfd, 1, -1);
}

/* Writes all of buf to fd, waiting if it is non-blocking. Returns -1 once fd is unusable. */
static int write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n > 0) {
      buf += n;
      len -= (size_t)n;
    } else if (n < 0 && errno == EAGAIN) {
      wait_for(fd, POLLOUT);
    } else if (!(n < 0 && errno == EINTR)) {
      return -1;
    }
  }
  return 0;
}

static int input_pending(const struct stream *s) {
  struct pollfd in = {.fd = s->src, .events = POLLIN};
  return poll(&in, 1, 0) > 0 && (in.revents & POLLIN);
}

/*
 * Moves one burst. Returns the bytes moved, 0 at EOF, or -1 when there is nothing to move now.
 * splice(2) moves them inside the kernel; where the destination does not take it (EINVAL: a
 * terminal), read and write do.
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
      wait_for(s->dst, POLLOUT);
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

void stream_relay(struct stream *s, int max) {
  for (int i = 0; (max < 0 || i < max) && s->open && relay_some(s) > 0; i++) {}
}
