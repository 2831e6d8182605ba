/* Dropping root for good: the user is looked up by name, the change is verified. */
#ifndef FORKD_PRIVILEGES_H
#define FORKD_PRIVILEGES_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Looks name up (NSS: files, LDAP, ...). Returns 0, or -1 with errno (ENOENT: no such user). */
int privileges_lookup_user(const char *name, uid_t *uid, gid_t *gid);
int privileges_lookup_group(const char *name, gid_t *gid);

/*
 * initgroups(user, gid), setgid(gid), setuid(uid) in that order, then checks that every real,
 * effective and saved id changed and that setuid(0) now fails. Returns 0, or -1 with errno
 * (EPERM when root could be regained: the caller must not continue).
 */
int privileges_drop(const char *user, uid_t uid, gid_t gid);

#ifdef __cplusplus
}
#endif

#endif
