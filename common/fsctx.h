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
 * O_PATH fds of /proc/<tid>/root and /proc/<tid>/cwd opened before. A parked context is
 * released first. On failure nothing stays changed. Every successful enter must be followed by
 * ic_fsctx_leave on the same thread. */
int ic_fsctx_enter(const struct ic_caller *c, int rootfd, int cwdfd, uint64_t keep_caps);
void ic_fsctx_leave(void);

/* An ic_fsctx_enter that cannot miss its leave: declared _cleanup_fsctx_, the scope leaves when
 * it goes out of scope if still entered. Declared after the handler's _cleanup_close_ fds, it
 * leaves before they are closed. ic_fsctx_scope_leave leaves early (before what must run as
 * ourselves again) and disarms it; it may be called when not entered. Same thread throughout. */
struct ic_fsctx_scope {
	bool entered;
	bool park; /* entered through ic_fsctx_scope_enter_caller: leaving parks */
};
int ic_fsctx_scope_enter(struct ic_fsctx_scope *s, const struct ic_caller *c, int rootfd, int cwdfd,
			 uint64_t keep_caps);
void ic_fsctx_scope_leave(struct ic_fsctx_scope *s);
/* Worker threads, mknod and setxattr (doc/design.md §10): act as the caller in its root, whose
 * relative paths start from the base fds given to the *_at_caller functions below (its cwd is
 * not entered). The context the thread's previous scope of this kind parked serves again when
 * c's root is the same directory on the same mount; of the ids, umask and capabilities only
 * what differs is switched. Leaving the scope parks the context: the thread keeps the caller's
 * root, ids and umask with its own capabilities back, and may then use fds only, never a path,
 * until ic_fsctx_release. c's task fds must be read since the notification (ic_caller_read):
 * a still_valid after this call proves the root was the notifying task's. */
int ic_fsctx_scope_enter_caller(struct ic_fsctx_scope *s, const struct ic_caller *c,
				uint64_t keep_caps);
/* Back to the thread's own root, ids and umask if a context is parked; nothing otherwise. Any
 * thread; every path of the host used on a worker thread comes after it (ic_handle calls it
 * before the handlers that know nothing of parking, the log before it writes to a socket by
 * name). */
void ic_fsctx_release(void);
/* Same thread: ic_fsctx_release if the context was parked max_ms ago or more (its last use);
 * true if it released. A worker kept busy by requests that never use the parked context still
 * drops it in bounded time (doc/design.md §10). */
bool ic_fsctx_release_stale(unsigned max_ms);
/* How long a parked context may stay unused. */
#define IC_FSCTX_PARKED_MAX_MS 20
/* Same thread: whether a caller's context is parked. */
bool ic_fsctx_parked(void);
/* The log's path guard: releases a parked context; false inside a scope, where the thread
 * stands in a caller's root and a path (the log's sockets) would be the container's. */
bool ic_fsctx_host_paths(void);
#define _cleanup_fsctx_ __attribute__((cleanup(ic_fsctx_scope_leave)))

/* Inside a scope: make caps (of our permitted ones) effective too. */
int ic_fsctx_raise(uint64_t caps);
/* Bind-mount the host's node at src over target (an O_PATH fd of a file in tid's mount
 * namespace): the node then works even where that namespace's filesystem is nodev. Worker
 * threads, outside ic_fsctx_enter; releases a parked context. */
int ic_bind_host_node(pid_t tid, const char *src, int target);
/* Attach the detached mount tree (open_tree/fsmount fd) over target in tid's mount namespace.
 * Worker threads, outside ic_fsctx_enter; releases a parked context. */
int ic_attach_tree(pid_t tid, int tree, int target);

/* Inside ic_fsctx_enter: an O_PATH fd of directory dir, resolved from the caller's cwd or root
 * as the kernel would for it, except that /proc magic links (which would lead to us) fail. */
int ic_open_dir_as_caller(const char *dir);
int ic_open_as_caller(const char *path, bool follow);
/* Inside ic_fsctx_enter: open path for real (flags: O_RDONLY/O_RDWR ...), as the caller. */
int ic_open_file_as_caller(const char *path, int flags);
/* Inside ic_fsctx_scope_enter_caller: the same, relative paths starting from base (an O_PATH fd
 * of the caller's cwd or dirfd). */
int ic_open_dir_at_caller(int base, const char *dir);
int ic_open_at_caller(int base, const char *path, bool follow);

#endif
