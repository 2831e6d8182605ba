/*
 * The relay: moves the bytes of one of the child's output pipes to one of our fds (its stdout
 * to ours, its stderr to ours), binary-safe, with splice(2) where the destination takes it
 * (ARCHITECTURE.md §1, "The relay").
 */
#ifndef FORKD_RELAY_H
#define FORKD_RELAY_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct stream {
  int src, dst; /* src: a non-blocking pipe's read end */
  int open; /* the pipe has not reached EOF */
  int dst_ok; /* our end still takes bytes; once it is gone, what arrives is read and discarded */
  int use_splice;
};

void stream_init(struct stream *s, int src, int dst);

/*
 * Moves what is available now, in up to max bursts (max < 0: until nothing is left). When the
 * destination is full it waits for room, as a blocking write would. At EOF s->open becomes 0.
 */
void stream_relay(struct stream *s, int max);

#ifdef __cplusplus
}
#endif

#endif
