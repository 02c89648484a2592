/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/caller.h"
#include "common/fsctx.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/mem.h"
#include "common/path.h"
#include "handlers/handlers.h"

#define OPAQUE_NAME "trusted.overlay.opaque"

#ifndef SYS_setxattrat
#define SYS_setxattrat 463
#endif

struct xattr_args_v0 {
	uint64_t value;
	uint32_t size;
	uint32_t flags;
};

/* Set the attribute on what fd (O_PATH) names, with host privilege. The fd was resolved as the
 * caller; going through our /proc link names that very inode and opens nothing (a FIFO cannot
 * block us, a device is not opened). */
static int set_on_fd(int fd, int flags)
{
	struct xattr_args_v0 args = {.value = (uintptr_t) "y", .size = 1, .flags = (uint32_t)flags};
	int proc = ic_caller_proc_dirfd();
	char link[64];

	/* By the host's /proc: the worker may stand in the container's root. */
	if (proc >= 0) {
		snprintf(link, sizeof(link), "self/fd/%d", fd);
		if (syscall(SYS_setxattrat, proc, link, 0, OPAQUE_NAME, &args, sizeof(args)) == 0)
			return 0;
		if (errno != ENOSYS)
			return -errno;
	}
	ic_fsctx_release();
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	return setxattr(link, OPAQUE_NAME, "y", 1, flags) < 0 ? -errno : 0;
}

/* Only on what the container owns: an inode whose owner and group its namespace maps (the
 * kernel's own test for a namespaced privilege over an inode). Host inodes it can reach, such
 * as the nodes we bind into it, get the kernel's EPERM. */
static bool owned(const struct ic_req *req, const struct stat *st)
{
	return ic_userns_maps(&req->ct->userns, st->st_uid, st->st_gid);
}

static int set_owned(const struct ic_req *req, int fd, int flags)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	return owned(req, &st) ? set_on_fd(fd, flags) : -EPERM;
}

/* lsetxattr on a symlink itself, inside the caller's context. It cannot be reached through an
 * fd, so it is set by name, checked before and after (a swap in between is logged; it can only
 * land on another inode the caller could name, and must pass the same ownership test). */
static int set_link(const struct ic_req *req, int parent, const char *last,
		    const struct stat *before, int flags)
{
	struct xattr_args_v0 args = {.value = (uintptr_t) "y", .size = 1, .flags = (uint32_t)flags};
	struct stat after;
	int r;

	if (!owned(req, before))
		return -EPERM;
	r = syscall(SYS_setxattrat, parent, last, AT_SYMLINK_NOFOLLOW, OPAQUE_NAME, &args,
		    sizeof(args)) < 0
		? -errno
		: 0;
	if (r == 0 && (fstatat(parent, last, &after, AT_SYMLINK_NOFOLLOW) < 0 ||
		       after.st_ino != before->st_ino || after.st_dev != before->st_dev))
		log_warn("container %s: lsetxattr %s: the name changed under us", req->ct->id,
			 last);
	return r;
}

/* Whether the caller's fd was opened O_PATH: fsetxattr then fails with EBADF. */
static int fd_is_opath(const struct ic_caller *c, int fd)
{
	unsigned flags;
	int r = ic_caller_fd_flags(c, fd, &flags);

	if (r < 0)
		return -EBADF;
	return flags & O_PATH ? 1 : 0;
}

/* Enter the caller's scope: its root, fsuid, fsgid, groups and umask, of our capabilities
 * CAP_SYS_ADMIN alone. fds_ok: the base fds opened before for it are good. A still_valid after
 * entering proves those fds and the root were the notifying task's, not a recycled pid's.
 * IC_VERDICT_RESPOND once entered, else the verdict to return. */
static enum ic_verdict enter_as_caller(struct ic_req *req, struct ic_fsctx_scope *s,
				       const struct ic_caller *caller, bool fds_ok)
{
	int r = ic_fsctx_scope_enter_caller(s, caller, 1ULL << CAP_SYS_ADMIN);
	int w = req->still_valid(req);

	if (w < 0)
		return ic_verdict_of(w);
	if (r == -ENOENT || r == -ESRCH || !fds_ok)
		return IC_VERDICT_GONE;
	if (r < 0) {
		log_warn_errno(r, "setxattr: cannot act as pid %d: %m", (int)caller->tid);
		return IC_VERDICT_FAILED;
	}
	return IC_VERDICT_RESPOND;
}

/* setxattr(path, name, value, size, flags), lsetxattr(...), fsetxattr(fd, ...). The filter only
 * passes size 1; of those we set trusted.overlay.opaque = "y" (OverlayFS's opaque directory
 * marker) for a caller with CAP_SYS_ADMIN in the container's user namespace. */
enum flavour { PATH_FOLLOW = 0, PATH_NOFOLLOW = 1, BY_FD = 2 };

static enum ic_verdict handle(struct ic_req *req, struct ic_resp *resp, enum flavour how)
{
	const __u64 *a = req->notif->data.args;
	pid_t tid = (pid_t)req->notif->pid;
	int flags = (int)(uint32_t)a[4];
	_cleanup_close_ int cwd = -EBADF, target = -EBADF, parent = -EBADF;
	_cleanup_fsctx_ struct ic_fsctx_scope as_caller = {0};
	char name[XATTR_NAME_MAX + 1], path[PATH_MAX], dir[PATH_MAX], value;
	const char *last = NULL;
	bool follow;
	struct ic_caller caller;
	enum ic_verdict v;
	struct stat st;
	int r, w;

	if (a[3] != 1 || (flags & ~(XATTR_CREATE | XATTR_REPLACE)))
		return IC_VERDICT_CONTINUE; /* the kernel's EINVAL, ERANGE or its own success */
	r = ic_read_string(tid, a[1], name, sizeof(name));
	if (r < 0 || strcmp(name, OPAQUE_NAME) != 0)
		return IC_VERDICT_CONTINUE; /* not ours: the kernel reads it again and judges */
	r = ic_mem_read(tid, a[2], &value, 1);
	if (r < 0 || value != 'y')
		return IC_VERDICT_CONTINUE;

	v = ic_caller_check(req, &caller, CAP_SYS_ADMIN);
	if (v != IC_VERDICT_RESPOND)
		return v;

	if (how == BY_FD) {
		/* This caller's ids, parked, before any work on its fd: never the ids the last
		 * request parked (another task's, or this one's before a setfsuid). */
		v = enter_as_caller(req, &as_caller, &caller, true);
		if (v != IC_VERDICT_RESPOND)
			return v;
		ic_fsctx_scope_leave(&as_caller);
		r = fd_is_opath(&caller, (int)a[0]);
		target = r == 0 ? ic_caller_open_fd(&caller, (int)a[0], false) : -EBADF;
		r = req->still_valid(req);
		if (r < 0)
			return ic_verdict_of(r);
		if (target < 0) {
			resp->error = EBADF;
			return IC_VERDICT_RESPOND;
		}
		r = set_owned(req, target, flags);
		goto done;
	}

	r = ic_read_string(tid, a[0], path, sizeof(path));
	if (r == -EFAULT || r == -ENAMETOOLONG) {
		resp->error = -r;
		return IC_VERDICT_RESPOND;
	}
	if (r < 0)
		return IC_VERDICT_GONE;
	/* A relative path starts from the caller's cwd; an absolute one needs none. */
	if (path[0] != '/')
		cwd = ic_caller_open_cwd(&caller);
	v = enter_as_caller(req, &as_caller, &caller, path[0] == '/' || cwd >= 0);
	if (v != IC_VERDICT_RESPOND)
		return v;
	ic_path_split(path, dir, sizeof(dir), &last);
	/* Follows the last symlink, as the caller's setxattr would (and lsetxattr too when a
	 * trailing slash asks for it), never through a /proc magic link. */
	follow = how == PATH_FOLLOW || strchr(last, '/');
	if (follow) {
		target = ic_open_at_caller(cwd, path, true);
		w = target < 0 ? 0 : req->still_valid(req);
	} else {
		/* lsetxattr: the last component itself, named from its directory while we still
		 * stand in the caller's root (so ".." cannot climb out of it). */
		parent = ic_open_dir_at_caller(cwd, dir);
		w = parent < 0 ? 0 : req->still_valid(req);
	}
	if (w < 0)
		return ic_verdict_of(w);
	/* r = 1: target is set once we have left, with host privilege. */
	if (follow) {
		r = target < 0 ? target : 1;
	} else if (parent < 0) {
		r = parent;
	} else if (fstatat(parent, last, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		r = -errno;
	} else if (S_ISLNK(st.st_mode)) {
		r = set_link(req, parent, last, &st, flags);
	} else {
		/* An O_PATH fd of it: the inode checked is the inode set, after we left. */
		target = openat(parent, last, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		r = target < 0 ? -errno : 1;
	}
	/* Parked: from here on fds only (set_on_fd goes by the host's /proc). set_owned runs with
	 * the caller's fsuid, fsgid and groups (and our capabilities), as the fd branch does: the
	 * kernel gives the filesystem the caller's ids for a privileged caller's own setxattr, and
	 * one that judges by them (FUSE: fuse2fs, or a container's own FUSE mount, which cannot
	 * even map our 0) must see the caller, not us. Before the context was parked (fa6d164)
	 * this ran with fsuid 0. */
	ic_fsctx_scope_leave(&as_caller);
	if (r == 1)
		r = set_owned(req, target, flags);
done:
	if (r == 0)
		log_info("container %s: pid %d %s %s=y: done", req->ct->id, (int)tid,
			 ic_syscall_name(req->sys), OPAQUE_NAME);
	resp->error = -r;
	return IC_VERDICT_RESPOND;
}

IC_HANDLER(ic_handle_setxattr)
{
	return handle(req, resp, PATH_FOLLOW);
}

IC_HANDLER(ic_handle_lsetxattr)
{
	return handle(req, resp, PATH_NOFOLLOW);
}

IC_HANDLER(ic_handle_fsetxattr)
{
	return handle(req, resp, BY_FD);
}
