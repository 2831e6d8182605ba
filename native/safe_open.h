/* The one rule for opening the daemon's files (pid file, log file) while it may still be root. */
#ifndef FORKD_SAFE_OPEN_H
#define FORKD_SAFE_OPEN_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Opens path without following a symbolic link, without hanging on a FIFO planted there, and
 * only if it is a regular file with no other hard link (so it cannot be a file kept elsewhere,
 * such as /etc/shadow). The fd is close-on-exec and blocking. With O_CREAT in flags, *created
 * (if not NULL) says whether this call created the file. Returns -1 with errno: ELOOP (a
 * symlink), EISDIR (a directory), EINVAL (not a regular file), EMLINK (other hard links).
 */
int safe_open(const char *path, int flags, mode_t mode, int *created);

/*
 * Opens the log file for appending under safe_open's rule. Only a file this call created is
 * given to uid:gid (when running as root and uid is not -1), so the daemon can reopen it after
 * dropping root; a file that already existed keeps its owner.
 */
int safe_open_log(const char *path, uid_t uid, gid_t gid);

#ifdef __cplusplus
}
#endif

#endif
