/*
 * The ready channel: a pipe from the child (later the daemon) to the waiting parent, separate
 * from the relayed output, so that "stderr closed because ready" and "stderr closed because the
 * child died" can never be confused (ARCHITECTURE.md §1). Its bytes, child to parent:
 *
 *   'R'                  the daemon is ready (fork_parent_ready, in fork_parent.h).
 *   'E' step errno(int)  setting up or exec'ing the child failed (ready_channel_fail).
 *   EOF with nothing     the daemon died, or closed the channel without saying ready.
 */
#ifndef FORKD_READY_CHANNEL_H
#define FORKD_READY_CHANNEL_H

#ifdef __cplusplus
extern "C" {
#endif

enum ready_state { READY_WAITING, READY_YES, READY_EOF, READY_FAILED };

/* In the child, async-signal-safe: says that step failed with the current errno. */
void ready_channel_fail(int fd, unsigned char step);

/* In the parent: reads what the channel says. READY_WAITING if interrupted; READY_FAILED fills
 * *step and *err. */
enum ready_state ready_channel_read(int fd, int *step, int *err);

#ifdef __cplusplus
}
#endif

#endif
