/*
 * The exec plan: everything the forked child needs to become the daemon, prepared before the
 * fork so that the child allocates nothing (ARCHITECTURE.md §1, "Fork, then re-exec").
 */
#ifndef FORKD_EXEC_PLAN_H
#define FORKD_EXEC_PLAN_H

#include <signal.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The signals the waiting parent takes through the self-pipe (sig_r). */
#define PLAN_N_SIGNALS 4

struct plan {
  char **argv; /* exactly as the kernel started us (/proc/self/cmdline) */
  char *argv_buf;
  char **envp; /* ours, without a stale marker, plus the marker slot (and LISTEN_PID's) */
  char marker[64]; /* "FORKD_READY=<pid>:<fd>", written by the child */
  char listen_pid[40]; /* "LISTEN_PID=<pid>", written by the child when fds are handed on */
  int listen_fds; /* socket-activation fds 3..3+n-1 handed on to the daemon (a restart: and extra
                     fds after them) */
  const int *move_fds; /* a restart: fds moved to 3..3+listen_fds-1 in the child */
  char listen_count[32]; /* "LISTEN_FDS=<n>" for moved fds */
  const char *exec_path; /* what the child executes */
  /* /dev/null, the stdout and stderr relay pipes, the ready channel, the signal self-pipe; all
   * close-on-exec and above 2. The read ends of the relay pipes are non-blocking. */
  int null_fd, out_r, out_w, err_r, err_w, ready_r, ready_w, sig_r, sig_w;
  unsigned max_fd; /* fallback bound for closing fds where close_range is missing */
  const char *failed_call; /* after plan_prepare failed: what failed, for the message */
  sigset_t old_mask; /* as before plan_catch_signals */
  struct sigaction old_sa[PLAN_N_SIGNALS];
};

/* A restart's changes to the plan: see struct fork_parent_options. */
struct plan_restart {
  const char *exec_path;
  int drop_arg;
  const int *listen_fds;
  int n_listen_fds;
  int n_extra_fds;
  const char *extra_env;
};

/* Fills *p (restart may be NULL); marker_name is at most 20 bytes. Returns -1 with errno and
 * p->failed_call set; then plan_free(p) still applies. */
int plan_prepare(struct plan *p, const char *marker_name, const struct plan_restart *restart);

/* In the child, async-signal-safe: moves a restart's fds to 3.. and *keep above them; without a
 * restart, clears close-on-exec on socket activation's fds 3.. so that they reach the daemon. */
int plan_move_fds(struct plan *p, int *keep);

/* Frees the plan and closes every fd of it still open. */
void plan_free(struct plan *p);

/* Closes *fd if open and sets it to -1. */
void plan_close(int *fd);

/*
 * Just before the fork: blocks every signal, and from now on SIGCHLD, SIGINT, SIGTERM and SIGHUP
 * write their number to the self-pipe. Handlers go in before the fork, so a SIGCHLD taken by
 * another thread is never lost. plan_unblock_signals lets them in (the parent, after the fork).
 */
void plan_catch_signals(struct plan *p);
void plan_unblock_signals(const struct plan *p);

/* Puts back the handlers and the mask as they were before plan_catch_signals. */
void plan_release_signals(struct plan *p);

/* In the child, async-signal-safe: writes the marker (and LISTEN_PID) for pid into their slots. */
void plan_write_marker(struct plan *p, const char *marker_name, unsigned long pid);

/* In the child, async-signal-safe: closes every fd >= 3 but socket activation's and keep. */
void plan_close_inherited(const struct plan *p, int keep);

#ifdef __cplusplus
}
#endif

#endif
