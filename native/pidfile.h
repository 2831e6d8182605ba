/* A pid file that is locked while its daemon lives: the lock, not the number, says who runs. */
#ifndef FORKD_PIDFILE_H
#define FORKD_PIDFILE_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Creates the pid file at path for pid. The file is written and locked before it gets its name
 * (link(2) of an unnamed or temporary file), so a reader never finds it empty or locked with
 * another pid in it. A stale file there is removed first, under a lock on the directory and a
 * shared lock on the file; it is never written through, so no symlink or hard link is followed.
 * Returns the locked fd (close-on-exec; keep it open while running), or -1 with errno: EWOULDBLOCK
 * (a live process holds it; *holder is the pid it wrote, or 0), ELOOP (path is a symlink), EISDIR,
 * EINVAL (not a regular file), EMLINK.
 */
int pidfile_acquire(const char *path, pid_t pid, pid_t *holder);

/*
 * Returns 1 if a process holds the pid file's lock, 0 if it is stale. *pid is the number in it
 * (0 if empty, garbage or <= 1); *holder is the lock holder's pid from /proc/locks (0 if not
 * locked or not found). Only *pid == *holder > 1 shows the daemon named in the file holds it;
 * a moment's inconsistency (a starter removing a stale file) is waited out. Returns -1 with
 * errno (ENOENT: no pid file; ELOOP, EISDIR, EINVAL, EMLINK as for safe_open).
 */
int pidfile_probe(const char *path, pid_t *pid, pid_t *holder);

/*
 * For the parent of a daemon that died during start-up: removes the pid file at path if no one
 * holds it and it names pid (the dead child). Returns 1 (removed), 0 (absent, held by a live
 * process, or naming another pid: not the child's), or -1 with errno.
 */
int pidfile_remove_stale(const char *path, pid_t pid);

/* Removes the pid file if path still names the file locked by fd, then closes fd. */
int pidfile_release(int fd, const char *path);

/*
 * A restart's successor: the new pid file, written and locked but unnamed (O_TMPFILE in the
 * directory of path), so that a successor that fails leaves nothing. Returns the fd or -1.
 */
int pidfile_prepare_successor(const char *path, pid_t pid);

/*
 * Gives the prepared file the name path by rename(2) over the old daemon's file: a reader finds
 * the old file (locked by the old daemon) or the new one (locked by us), never none. Returns -1
 * with errno on failure (the old file stays).
 */
int pidfile_take_over(int fd, const char *path);

#ifdef __cplusplus
}
#endif

#endif
