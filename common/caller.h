/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_COMMON_CALLER_H
#define IC_COMMON_CALLER_H

#include <stdbool.h>
#include <stddef.h>
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

/* Worker threads: a private fs_struct so that chroot, chdir, umask and setns(CLONE_NEWNS) are
 * per thread. Once per thread, before ic_fsctx_enter. */
int ic_fsctx_thread_init(void);

/* Act as the caller for path resolution: its root, its cwd, its fsuid/fsgid/groups and umask,
 * and of our capabilities only keep_caps (a CAP_* bit mask) effective. rootfd and cwdfd are
 * O_PATH fds of /proc/<tid>/root and /proc/<tid>/cwd opened before. On failure nothing stays
 * changed. Every successful enter must be followed by ic_fsctx_leave on the same thread. */
int ic_fsctx_enter(const struct ic_caller *c, int rootfd, int cwdfd, uint64_t keep_caps);
void ic_fsctx_leave(void);
/* Inside ic_fsctx_enter: make caps (of our permitted ones) effective too. */
int ic_fsctx_raise(uint64_t caps);
/* Bind-mount the host's node at src over target (an O_PATH fd of a file in tid's mount
 * namespace): the node then works even where that namespace's filesystem is nodev. Worker
 * threads, outside ic_fsctx_enter. */
int ic_bind_host_node(pid_t tid, const char *src, int target);
/* Attach the detached mount tree (open_tree/fsmount fd) over target in tid's mount namespace.
 * Worker threads, outside ic_fsctx_enter. */
int ic_attach_tree(pid_t tid, int tree, int target);

/* O_PATH fds of what a relative path of tid starts from: its root, its cwd, or its fd dirfd
 * (AT_FDCWD for the cwd). dirfd errors are the kernel's: EBADF, ENOTDIR. */
int ic_caller_open_root(pid_t tid);
int ic_caller_open_cwd(pid_t tid);
int ic_caller_open_fd(pid_t tid, int fd, bool want_dir);

/* Inside ic_fsctx_enter: an O_PATH fd of directory dir, resolved from the caller's cwd or root
 * as the kernel would for it, except that /proc magic links (which would lead to us) fail. */
int ic_open_dir_as_caller(const char *dir);
int ic_open_as_caller(const char *path, bool follow);
/* Inside ic_fsctx_enter: open path for real (flags: O_RDONLY/O_RDWR ...), as the caller. */
int ic_open_file_as_caller(const char *path, int flags);

#endif
