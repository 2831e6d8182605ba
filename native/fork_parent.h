/*
 * fork_parent: start a daemon the way a good Unix daemon starts (ARCHITECTURE.md §1). This is
 * the protocol; it reports what happened and prints nothing: the messages and the exit codes
 * are the caller's (src/daemon/parent.ts).
 */
#ifndef FORKD_FORK_PARENT_H
#define FORKD_FORK_PARENT_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The environment variable that tells the re-executed image it is the daemon: "<pid>:<fd>". */
#define FORK_PARENT_MARKER "FORKD_READY"

/* Said while the parent waits, before what it announces happens. */
enum fork_parent_event {
  FORK_PARENT_TIMED_OUT = 1, /* not ready in time: the child is about to be stopped */
  FORK_PARENT_KILL_AFTER_GRACE, /* still running stop_grace_ms after SIGTERM: SIGKILL follows */
  FORK_PARENT_KILL_ON_CANCEL, /* a second cancelling signal: SIGKILL follows */
};

struct fork_parent_options {
  long ready_timeout_ms; /* <= 0: wait for ever */
  long stop_grace_ms; /* after SIGTERM to an abandoned child, before SIGKILL */
  int failure_exit; /* the child's exit code when its set-up or execve fails */
  void (*on_event)(void *ctx, enum fork_parent_event event); /* may be NULL */
  void *ctx;
  /* A restart (ARCHITECTURE.md §2): NULL for a start. */
  const char *exec_path; /* execve this instead of /proc/self/exe */
  int drop_arg; /* > 0: leave out our argv[argc - drop_arg] (the word "restart") */
  const int *listen_fds; /* handed to the daemon as fds 3.. with LISTEN_FDS, LISTEN_PID */
  int n_listen_fds;
  int n_extra_fds; /* the last n_extra_fds of listen_fds are passed on, but not LISTEN_FDS */
  const char *extra_env; /* "NAME=value" added to the daemon's environment */
};

/* How the start-up ended. */
enum fork_parent_end {
  FORK_PARENT_READY = 1, /* the daemon said ready */
  FORK_PARENT_SETUP_FAILED, /* the child could not set up its stdio or execve: step, error */
  FORK_PARENT_DIED, /* the child ended before it was ready: status (a waitpid status) */
  FORK_PARENT_TIMEOUT, /* not ready within ready_timeout_ms; stopped */
  FORK_PARENT_CANCELLED, /* a signal to the parent (SIGINT, SIGTERM, SIGHUP): signal; stopped */
};

enum fork_parent_step { FORK_PARENT_STEP_STDIO = 1, FORK_PARENT_STEP_EXEC = 2 };

struct fork_parent_result {
  pid_t pid; /* the daemon's pid */
  enum fork_parent_end end;
  enum fork_parent_step step; /* SETUP_FAILED */
  int error; /* SETUP_FAILED: the errno of step */
  int status; /* DIED */
  int signal; /* CANCELLED: the first cancelling signal */
  const char *failed_call; /* when fork_parent returns -1: what failed ("pipe", "fork", ...) */
};

/*
 * Forks; the child becomes a session leader with /dev/null on stdin and a pipe on each of stdout
 * and stderr, and re-executes /proc/self/exe with this process's exact argv and the marker in
 * its environment (a restart: opts->exec_path, the old daemon's sockets, our argv but the word
 * "restart"). The parent copies the pipes to its own stdout and stderr until the daemon is ready,
 * has died or the wait is cancelled, and fills *result. A child that died before it was ready has
 * its process group killed (helpers it started). Never returns in the child. Returns -1 with errno
 * and result->failed_call set (no fd left open) when no child could be started.
 */
int fork_parent(const struct fork_parent_options *opts, struct fork_parent_result *result);

/* In the daemon: checks that fd is the ready channel and marks it close-on-exec. */
int fork_parent_claim(int fd);

/* In the daemon: tells the waiting parent that start-up is complete and closes fd. */
int fork_parent_ready(int fd);

#ifdef __cplusplus
}
#endif

#endif
