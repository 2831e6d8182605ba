/* Sending data with descriptors attached (fd_send.h). */
#include "fd_send.h"

#include <errno.h>
#include <string.h>

ssize_t fd_send(int sock, const struct sockaddr *to, socklen_t to_len, const void *data, size_t len,
                const int *fds, int n_fds) {
  if (n_fds < 0 || n_fds > FD_SEND_MAX) return errno = EINVAL, -1;
  union {
    char buf[CMSG_SPACE(sizeof(int) * FD_SEND_MAX)];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
  struct msghdr msg = {
      .msg_name = (void *)to, .msg_namelen = to_len, .msg_iov = &iov, .msg_iovlen = 1};
  if (n_fds > 0) {
    msg.msg_control = control.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n_fds);
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n_fds);
    memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)n_fds);
  }
  ssize_t sent;
  while ((sent = sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {}
  return sent;
}
