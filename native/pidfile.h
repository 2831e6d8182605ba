/* A pid file that is locked while its daemon lives: the lock, not the number, says who runs. */
#ifndef FORKD_PIDFILE_H
#define FORKD_PIDFILE_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Creates or takes over the pid file at path without following a symbolic link, locks it and
 * writes pid into it. Returns the locked fd (close-on-exec; keep it open while running), or -1
 * with errno: ELOOP (path is a symlink), EWOULDBLOCK (a live process holds it; *holder is the
 * pid it wrote, or 0), EINVAL (not a regular file), EMLINK (the file has other hard links).
 */
int pidfile_acquire(const char *path, pid_t pid, pid_t *holder);

/* Returns 1 if a live process holds the pid file, 0 if it is stale; *pid is the number in it
 * (0 if none). Returns -1 with errno (ENOENT: no pid file). */
int pidfile_probe(const char *path, pid_t *pid);

/* Removes the pid file if path still names the file locked by fd, then closes fd. */
int pidfile_release(int fd, const char *path);

#ifdef __cplusplus
}
#endif

#endif
