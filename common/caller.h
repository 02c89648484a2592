/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_COMMON_CALLER_H
#define IC_COMMON_CALLER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/userns.h"

#define IC_CALLER_GROUPS_MAX 256

/* A notifying task's identity as the host sees it, from /proc/<tid>/status. */
struct ic_caller {
	pid_t tid;
	uid_t euid;
	uid_t fsuid;
	gid_t fsgid;
	int n_groups;
	gid_t groups[IC_CALLER_GROUPS_MAX];
	uint64_t cap_eff; /* relative to the task's own user namespace */
	mode_t umask;
};

int ic_caller_read(pid_t tid, struct ic_caller *c);
/* Whether tid is in user namespace ns (one stat). */
int ic_caller_in_userns(pid_t tid, const struct ic_userns *ns, bool *same);

/* O_PATH fds of what a relative path of tid starts from: its root, its cwd, or its fd dirfd
 * (AT_FDCWD for the cwd). dirfd errors are the kernel's: EBADF, ENOTDIR. */
int ic_caller_open_root(pid_t tid);
int ic_caller_open_cwd(pid_t tid);
int ic_caller_open_fd(pid_t tid, int fd, bool want_dir);

#endif
