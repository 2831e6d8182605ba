#define _GNU_SOURCE
#include "privileges.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

/* The get*nam_r convention (an error number returned, NULL for "no such entry") as -1/errno. */
static int lookup_result(int rc, const void *found) {
  if (rc == 0 && found) return 0;
  errno = rc != 0 ? rc : ENOENT;
  return -1;
}

int privileges_lookup_user(const char *name, uid_t *uid, gid_t *gid) {
  struct passwd pw, *found = NULL;
  char buf[16384];
  int rc = getpwnam_r(name, &pw, buf, sizeof buf, &found);
  if (lookup_result(rc, found) < 0) return -1;
  *uid = pw.pw_uid;
  *gid = pw.pw_gid;
  return 0;
}

int privileges_lookup_group(const char *name, gid_t *gid) {
  struct group gr, *found = NULL;
  char buf[16384];
  int rc = getgrnam_r(name, &gr, buf, sizeof buf, &found);
  if (lookup_result(rc, found) < 0) return -1;
  *gid = gr.gr_gid;
  return 0;
}

int privileges_drop(const char *user, uid_t uid, gid_t gid) {
  /* Groups first: once the uid is gone, so is the right to change them. */
  if (initgroups(user, gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) return -1;
  uid_t ru, eu, su;
  gid_t rg, eg, sg;
  if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0) return -1;
  if (ru != uid || eu != uid || su != uid || rg != gid || eg != gid || sg != gid) {
    errno = EPERM;
    return -1;
  }
  if (uid != 0 && setuid(0) == 0) {
    errno = EPERM;
    return -1;
  }
  return 0;
}
