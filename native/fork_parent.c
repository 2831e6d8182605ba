/*
 * fork_parent with re-exec: the protocol (ARCHITECTURE.md §1). The exec plan (exec_plan.c) is
 * made before the fork; the relay (relay.c) moves the child's output; the ready channel
 * (ready_channel.c) says how the start-up went. This file forks, sets the child up and waits.
 */
#define _GNU_SOURCE
#include "fork_parent.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec_plan.h"
#include "ready_channel.h"
#include "relay.h"

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static __attribute__((noreturn)) void child_fail(const struct plan *p, int step, int code) {
  ready_channel_fail(p->ready_w, (unsigned char)step);
  _exit(code);
}

/* Runs between fork and execve: async-signal-safe calls only, no allocation. */
static __attribute__((noreturn)) void child_exec(struct plan *p, int code) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL);

  setsid();
  if (dup2(p->null_fd, 0) < 0 || dup2(p->out_w, 1) < 0 || dup2(p->err_w, 2) < 0)
    child_fail(p, FORK_PARENT_STEP_STDIO, code);
  /* Node marks 0..2 close-on-exec; dup2 clears it, and this makes sure. */
  for (int fd = 0; fd <= 2; fd++)
    if (fcntl(fd, F_SETFD, 0) < 0) child_fail(p, FORK_PARENT_STEP_STDIO, code);
  if (plan_move_fds(p, &p->ready_w) < 0) child_fail(p, FORK_PARENT_STEP_STDIO, code);
  if (fcntl(p->ready_w, F_SETFD, 0) < 0) child_fail(p, FORK_PARENT_STEP_STDIO, code);
  plan_write_marker(p, FORK_PARENT_MARKER, (unsigned long)getpid());
  /* Inherited fds must not leak into the daemon; keep only socket activation's and ours. */
  plan_close_inherited(p, p->ready_w);

  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  execve(p->exec_path, p->argv, p->envp);
  child_fail(p, FORK_PARENT_STEP_EXEC, code);
}

/* The parent's view of one start-up. */
struct start {
  const struct fork_parent_options *opts;
  const struct plan *plan;
  pid_t pid;
  struct stream out[2]; /* the child's stdout and stderr */
  int ready, fail_step, fail_errno, reaped, status;
  int cancel_sig, cancels; /* the first cancelling signal, and how many came */
};

static void read_ready(struct start *w) {
  w->ready = ready_channel_read(w->plan->ready_r, &w->fail_step, &w->fail_errno);
}

/* Empties the self-pipe, counting the signals that cancel the start. */
static void read_signals(struct start *w) {
  unsigned char sigs[64];
  ssize_t n;
  while ((n = read(w->plan->sig_r, sigs, sizeof sigs)) > 0)
    for (ssize_t i = 0; i < n; i++)
      if (sigs[i] != SIGCHLD) {
        if (!w->cancel_sig) w->cancel_sig = sigs[i];
        w->cancels++;
      }
}

static void drain(struct start *w) {
  for (int k = 0; k < 2; k++) stream_relay(&w->out[k], -1);
}

/* One round of waiting: relays output, notes readiness, signals and the child's death. */
static void wait_round(struct start *w, long timeout_ms) {
  struct pollfd pfd[4] = {{.fd = w->plan->sig_r, .events = POLLIN}};
  int n = 1, i_out[2] = {-1, -1}, i_ready = -1;
  for (int k = 0; k < 2; k++)
    if (w->out[k].open) {
      i_out[k] = n;
      pfd[n++] = (struct pollfd){w->out[k].src, POLLIN, 0};
    }
  if (w->ready == READY_WAITING) {
    i_ready = n;
    pfd[n++] = (struct pollfd){w->plan->ready_r, POLLIN, 0};
  }
  /* After stderr or the channel closes the child is dying: look for it often, not on SIGCHLD. */
  if ((!w->out[1].open || w->ready != READY_WAITING) && (timeout_ms < 0 || timeout_ms > 50))
    timeout_ms = 50;
  if (poll(pfd, (nfds_t)n, (int)(timeout_ms < 0 ? -1 : timeout_ms)) < 0) return;
  if (i_ready >= 0 && pfd[i_ready].revents) read_ready(w);
  /* Up to 16 bursts on each before looking at signals and readiness again. */
  for (int k = 0; k < 2; k++)
    if (i_out[k] >= 0 && pfd[i_out[k]].revents) stream_relay(&w->out[k], 16);
  if (pfd[0].revents) read_signals(w);
  pid_t got = 0;
  while (!w->reaped && (got = waitpid(w->pid, &w->status, WNOHANG)) < 0 && errno == EINTR) {}
  if (got == w->pid) w->reaped = 1;
}

static void announce(const struct start *w, enum fork_parent_event event) {
  if (w->opts->on_event) w->opts->on_event(w->opts->ctx, event);
}

static void kill_child(const struct start *w, int sig) {
  /* The child leads its own process group: stop the helpers it started too. */
  if (kill(-w->pid, sig) < 0) kill(w->pid, sig);
}

/* Stops a child whose start-up is abandoned, relaying what it says on the way out. */
static void stop_child(struct start *w) {
  kill_child(w, SIGTERM);
  long deadline = now_ms() + w->opts->stop_grace_ms;
  int cancels = w->cancels;
  while (!w->reaped) {
    long left = deadline - now_ms();
    if (left > 0) wait_round(w, left);
    /* Out of patience, or a second Ctrl-C: do not wait any longer. */
    if (!w->reaped && (deadline - now_ms() <= 0 || w->cancels > cancels)) {
      announce(w, w->cancels > cancels ? FORK_PARENT_KILL_ON_CANCEL : FORK_PARENT_KILL_AFTER_GRACE);
      kill_child(w, SIGKILL);
      while (waitpid(w->pid, &w->status, 0) < 0 && errno == EINTR) {}
      w->reaped = 1;
    }
  }
  drain(w);
}

/* Waits for the end of the start-up; see fork_parent_end. */
static void wait_start(struct start *w, struct fork_parent_result *res) {
  long timeout = w->opts->ready_timeout_ms;
  long deadline = timeout > 0 ? now_ms() + timeout : -1;
  for (;;) {
    if (w->ready == READY_YES) {
      drain(w);
      res->end = FORK_PARENT_READY;
      return;
    }
    if (w->cancel_sig) {
      stop_child(w);
      res->end = FORK_PARENT_CANCELLED;
      res->signal = w->cancel_sig;
      return;
    }
    if (w->reaped) {
      /* A child may say ready and exit within one round: read what it left on the channel
       * before judging (its end is closed now, so this cannot block). */
      struct pollfd pr = {.fd = w->plan->ready_r, .events = POLLIN};
      if (w->ready == READY_WAITING && poll(&pr, 1, 0) > 0) read_ready(w);
      if (w->ready == READY_YES) continue;
      drain(w);
      /* Helpers it started in its process group would outlive a failed start: not those. */
      kill(-w->pid, SIGKILL);
      res->end = w->ready == READY_FAILED ? FORK_PARENT_SETUP_FAILED : FORK_PARENT_DIED;
      res->step = (enum fork_parent_step)w->fail_step;
      res->error = w->fail_errno;
      res->status = w->status;
      return;
    }
    long left = deadline < 0 ? -1 : deadline - now_ms();
    if (deadline >= 0 && left <= 0) {
      announce(w, FORK_PARENT_TIMED_OUT);
      stop_child(w);
      res->end = FORK_PARENT_TIMEOUT;
      return;
    }
    wait_round(w, left);
  }
}

int fork_parent(const struct fork_parent_options *opts, struct fork_parent_result *res) {
  struct plan plan;
  memset(res, 0, sizeof *res);
  struct plan_restart restart = {opts->exec_path,    opts->drop_arg,    opts->listen_fds,
                                 opts->n_listen_fds, opts->n_extra_fds, opts->extra_env};
  if (plan_prepare(&plan, FORK_PARENT_MARKER, &restart) < 0) {
    res->failed_call = plan.failed_call;
    plan_free(&plan);
    return -1;
  }

  plan_catch_signals(&plan);
  pid_t pid = fork();
  if (pid == 0) child_exec(&plan, opts->failure_exit);
  int fork_errno = errno;
  plan_close(&plan.out_w);
  plan_close(&plan.err_w);
  plan_close(&plan.ready_w);
  plan_close(&plan.null_fd);
  if (pid > 0) {
    plan_unblock_signals(&plan);
    struct start w = {.opts = opts, .plan = &plan, .pid = pid, .ready = READY_WAITING};
    stream_init(&w.out[0], plan.out_r, 1);
    stream_init(&w.out[1], plan.err_r, 2);
    res->pid = pid;
    wait_start(&w, res);
  }

  plan_release_signals(&plan);
  plan_free(&plan);
  if (pid > 0) return 0;
  res->failed_call = "fork";
  errno = fork_errno;
  return -1;
}
