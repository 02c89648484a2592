/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_COMMON_FSCTX_H
#define IC_COMMON_FSCTX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct ic_caller;

/* Worker threads: a private fs_struct so that chroot, chdir, umask and setns(CLONE_NEWNS) are
 * per thread. Once per thread, before ic_fsctx_enter. */
int ic_fsctx_thread_init(void);

/* Act as the caller for path resolution: its root, its cwd, its fsuid/fsgid/groups and umask,
 * and of our capabilities only keep_caps (a CAP_* bit mask) effective. rootfd and cwdfd are
 * O_PATH fds of /proc/<tid>/root and /proc/<tid>/cwd opened before. On failure nothing stays
 * changed. Every successful enter must be followed by ic_fsctx_leave on the same thread. */
int ic_fsctx_enter(const struct ic_caller *c, int rootfd, int cwdfd, uint64_t keep_caps);
void ic_fsctx_leave(void);

/* An ic_fsctx_enter that cannot miss its leave: declared _cleanup_fsctx_, the scope leaves when
 * it goes out of scope if still entered. Declared after the handler's _cleanup_close_ fds, it
 * leaves before they are closed. ic_fsctx_scope_leave leaves early (before what must run as
 * ourselves again) and disarms it; it may be called when not entered. Same thread throughout. */
struct ic_fsctx_scope {
	bool entered;
};
int ic_fsctx_scope_enter(struct ic_fsctx_scope *s, const struct ic_caller *c, int rootfd, int cwdfd,
			 uint64_t keep_caps);
void ic_fsctx_scope_leave(struct ic_fsctx_scope *s);
#define _cleanup_fsctx_ __attribute__((cleanup(ic_fsctx_scope_leave)))

/* Inside ic_fsctx_enter: make caps (of our permitted ones) effective too. */
int ic_fsctx_raise(uint64_t caps);
/* Bind-mount the host's node at src over target (an O_PATH fd of a file in tid's mount
 * namespace): the node then works even where that namespace's filesystem is nodev. Worker
 * threads, outside ic_fsctx_enter. */
int ic_bind_host_node(pid_t tid, const char *src, int target);
/* Attach the detached mount tree (open_tree/fsmount fd) over target in tid's mount namespace.
 * Worker threads, outside ic_fsctx_enter. */
int ic_attach_tree(pid_t tid, int tree, int target);

/* Inside ic_fsctx_enter: an O_PATH fd of directory dir, resolved from the caller's cwd or root
 * as the kernel would for it, except that /proc magic links (which would lead to us) fail. */
int ic_open_dir_as_caller(const char *dir);
int ic_open_as_caller(const char *path, bool follow);
/* Inside ic_fsctx_enter: open path for real (flags: O_RDONLY/O_RDWR ...), as the caller. */
int ic_open_file_as_caller(const char *path, int flags);

#endif
