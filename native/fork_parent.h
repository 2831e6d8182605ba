/* fork_parent: start a daemon the way a good Unix daemon starts (see ARCHITECTURE.md §1). */
#ifndef FORKD_FORK_PARENT_H
#define FORKD_FORK_PARENT_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The environment variable that tells the re-executed image it is the daemon: "<pid>:<fd>". */
#define FORK_PARENT_MARKER "FORKD_READY"

/* sysexits.h values used by the relay. */
#define FORK_PARENT_EX_UNAVAILABLE 69
#define FORK_PARENT_EX_SOFTWARE 70
#define FORK_PARENT_EX_OSERR 71

struct fork_parent_options {
  const char *name; /* prefix of the parent's own messages */
  long ready_timeout_ms; /* <= 0: wait for ever */
  long stop_grace_ms; /* after SIGTERM to a cancelled child, before SIGKILL */
};

struct fork_parent_result {
  pid_t pid; /* the daemon's pid */
  int exit_code; /* what the parent should exit with */
  int raise_signal; /* non-zero: the start was cancelled by this signal; re-raise it */
};

/*
 * Forks; the child becomes a session leader with /dev/null on stdin and a pipe on each of stdout
 * and stderr, and re-executes /proc/self/exe with this process's exact argv and the marker in
 * its environment. The parent copies the pipes to its own stdout and stderr until the daemon is
 * ready, has died or the wait is cancelled, prints what happened and fills *result. A child
 * that died before it was ready has its process group killed (helpers it started). Never
 * returns in the child.
 * Returns -1 with errno set (nothing printed, no fd left open) when no child could be started.
 */
int fork_parent(const struct fork_parent_options *opts, struct fork_parent_result *result);

/* In the daemon: checks that fd is the ready channel and marks it close-on-exec. */
int fork_parent_claim(int fd);

/* In the daemon: tells the waiting parent that start-up is complete and closes fd. */
int fork_parent_ready(int fd);

/* "SIGSEGV" for SIGSEGV; "SIGRTMIN+3"; "signal 99" for unknown numbers. buf holds >= 16 bytes. */
const char *fork_parent_signame(int sig, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif
