/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_COMMON_CALLER_H
#define IC_COMMON_CALLER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/userns.h"

#define IC_CALLER_GROUPS_MAX 256
/* Tasks whose /proc fds a worker keeps between requests (doc/design.md §11). */
#define IC_CALLER_TASKS_CACHED 8
#define IC_DIR_ID_MAX	       128 /* MAX_HANDLE_SZ */

/* What a thread keeps open of a task it served: /proc/<tid> (O_PATH) and its status. Both hold
 * the task's struct pid, never a later owner of the number: once the task is gone they read
 * ESRCH, and the entry is opened again by number. */
struct ic_task {
	pid_t tid;
	int dir;
	int status;
};

/* A notifying task's identity as the host sees it, from /proc/<tid>/status. */
struct ic_caller {
	pid_t tid;
	struct ic_task *task; /* the thread's entry for tid; valid until its next ic_caller_read */
	uid_t euid;
	uid_t fsuid;
	gid_t fsgid;
	int n_groups;
	gid_t groups[IC_CALLER_GROUPS_MAX];
	uint64_t cap_eff; /* relative to the task's own user namespace */
	mode_t umask;
};

/* Which directory, on which mount: the mount's unique id and the inode's file handle (which
 * carries its generation, so a reused inode number is another directory). */
struct ic_dir_id {
	uint64_t mnt;
	int type;
	unsigned len;
	unsigned char handle[IC_DIR_ID_MAX];
};

/* Once per process, in the host's root, before any thread enters a caller's (ic_fsctx_enter):
 * the /proc every lookup below starts from, whatever root the thread stands in later. */
int ic_caller_proc_init(void);
/* The calling thread keeps the /proc fds of the last IC_CALLER_TASKS_CACHED tasks it read
 * between calls (workers); other threads open and close them per call. */
void ic_caller_cache_enable(void);
/* Close every task fd the calling thread keeps (an idle worker). */
void ic_caller_cache_drop(void);

/* Read tid's status through the thread's entry for it (opened when missing or when its task is
 * gone). The entry stands for tid only until a still_valid after this call proves tid is still
 * the notifying task. */
int ic_caller_read(pid_t tid, struct ic_caller *c);
/* Whether the caller is in user namespace ns (one stat). */
int ic_caller_in_userns(const struct ic_caller *c, const struct ic_userns *ns, bool *same);

/* O_PATH fds of what a relative path of the caller starts from: its root, its cwd, or its fd
 * (AT_FDCWD for the cwd). fd errors are the kernel's: EBADF, ENOTDIR. */
int ic_caller_open_root(const struct ic_caller *c);
int ic_caller_open_cwd(const struct ic_caller *c);
int ic_caller_open_fd(const struct ic_caller *c, int fd, bool want_dir);
/* The open flags of the caller's fd (from its fdinfo); -EBADF when it has no such fd. */
int ic_caller_fd_flags(const struct ic_caller *c, int fd, unsigned *flags);
/* Which directory the caller's root is now (one lookup), without opening it. */
int ic_caller_root_id(const struct ic_caller *c, struct ic_dir_id *id);

/* The identity of what dirfd/path names (AT_EMPTY_PATH for dirfd itself); -EOPNOTSUPP where
 * its filesystem gives no file handle. */
int ic_dir_id_at(int dirfd, const char *path, int flags, struct ic_dir_id *id);
bool ic_dir_id_equal(const struct ic_dir_id *a, const struct ic_dir_id *b);

/* The host's /proc, opened by ic_caller_proc_init (AT_FDCWD before): paths under it are
 * relative ("self/fd/3"). */
int ic_caller_proc_at(const char *what, int flags);
/* That /proc's fd, -EBADF before ic_caller_proc_init. */
int ic_caller_proc_dirfd(void);

#endif
