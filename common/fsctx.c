/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/caller.h"
#include "common/fsctx.h"
#include "common/macros.h"

/* Per worker thread: what ic_fsctx_leave restores. */
static __thread int host_root = -1, host_cwd = -1, host_mntns = -1;
static __thread mode_t host_umask;
static __thread struct __user_cap_data_struct host_caps[2];
static __thread struct __user_cap_data_struct cur_caps[2]; /* what capset made effective last */
static __thread bool fsctx_ready;

static int capget_self(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};

	return syscall(SYS_capget, &h, data) < 0 ? -errno : 0;
}

static int capset_self(const struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};

	return syscall(SYS_capset, &h, data) < 0 ? -errno : 0;
}

int ic_fsctx_thread_init(void)
{
	if (fsctx_ready)
		return 0;
	if (unshare(CLONE_FS) < 0)
		return -errno;
	host_root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	host_cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	host_mntns = open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (host_root < 0 || host_cwd < 0 || host_mntns < 0)
		return -errno;
	if (capget_self(host_caps) < 0)
		return -errno;
	host_umask = umask(0);
	umask(host_umask);
	fsctx_ready = true;
	return 0;
}

/* Raw syscalls throughout: glibc's setgroups and friends change every thread of the process. */
static void restore_ids(void)
{
	static const gid_t none[1];

	/* Capabilities first: setgroups needs CAP_SETGID, which the caller's set lacked. With
	 * them back, the rest cannot fail; fsuid 0 then raises nothing we do not already have. */
	if (capset_self(host_caps) < 0 || syscall(SYS_setgroups, 0, none) < 0)
		abort(); /* a worker left with a container's identity must not serve anyone else */
	syscall(SYS_setfsuid, 0);
	syscall(SYS_setfsgid, 0);
	memcpy(cur_caps, host_caps, sizeof(cur_caps));
}

int ic_fsctx_enter(const struct ic_caller *c, int rootfd, int cwdfd, uint64_t keep_caps)
{
	struct __user_cap_data_struct caps[2];
	int r;

	if (!fsctx_ready)
		return -EINVAL;
	/* Ours alone even if a thread was created from this one since (it would share it). */
	if (unshare(CLONE_FS) < 0)
		return -errno;
	if (fchdir(rootfd) < 0 || chroot(".") < 0 || fchdir(cwdfd) < 0) {
		r = -errno;
		goto fail_fs;
	}
	if (syscall(SYS_setgroups, (size_t)c->n_groups, c->groups) < 0) {
		r = -errno;
		goto fail_ids;
	}
	/* We hold CAP_SETUID and CAP_SETGID here (the host set): these cannot fail. */
	syscall(SYS_setfsgid, c->fsgid);
	syscall(SYS_setfsuid, c->fsuid);
	/* A non-root fsuid drops the fs capabilities by itself; set exactly what we keep. */
	memcpy(caps, host_caps, sizeof(caps));
	caps[0].effective = (uint32_t)(keep_caps & host_caps[0].permitted);
	caps[1].effective = (uint32_t)((keep_caps >> 32) & host_caps[1].permitted);
	r = capset_self(caps);
	if (r < 0)
		goto fail_ids;
	memcpy(cur_caps, caps, sizeof(cur_caps));
	umask(c->umask);
	return 0;

fail_ids:
	restore_ids();
fail_fs:
	if (fchdir(host_root) < 0 || chroot(".") < 0 || fchdir(host_cwd) < 0)
		abort(); /* a worker stuck in a container's root must not serve anyone else */
	return r;
}

int ic_fsctx_raise(uint64_t caps)
{
	struct __user_cap_data_struct now[2];

	memcpy(now, cur_caps, sizeof(now));
	now[0].effective |= (uint32_t)caps & now[0].permitted;
	now[1].effective |= (uint32_t)(caps >> 32) & now[1].permitted;
	return capset_self(now);
}

void ic_fsctx_leave(void)
{
	umask(host_umask);
	restore_ids();
	if (fchdir(host_root) < 0 || chroot(".") < 0 || fchdir(host_cwd) < 0)
		abort(); /* a worker stuck in a container's root must not serve anyone else */
}

int ic_fsctx_scope_enter(struct ic_fsctx_scope *s, const struct ic_caller *c, int rootfd, int cwdfd,
			 uint64_t keep_caps)
{
	int r = ic_fsctx_enter(c, rootfd, cwdfd, keep_caps);

	s->entered = r == 0;
	return r;
}

void ic_fsctx_scope_leave(struct ic_fsctx_scope *s)
{
	if (!s->entered)
		return;
	s->entered = false;
	ic_fsctx_leave();
}

static int open_how(const char *path, uint64_t flags)
{
	struct open_how how = {
	    .flags = flags | O_CLOEXEC,
	    /* The caller's root is our root now; its /proc magic links would lead to us. */
	    .resolve = RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));

	return fd < 0 ? -errno : fd;
}

int ic_open_dir_as_caller(const char *dir)
{
	return open_how(dir, O_PATH | O_DIRECTORY);
}

int ic_open_as_caller(const char *path, bool follow)
{
	return open_how(path, O_PATH | (follow ? 0 : O_NOFOLLOW));
}

int ic_open_file_as_caller(const char *path, int flags)
{
	return open_how(path, (uint64_t)flags);
}

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif

int ic_attach_tree(pid_t tid, int tree, int target)
{
	_cleanup_close_ int ns = -EBADF;
	char path[64];
	int r = 0;

	if (!fsctx_ready)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)tid);
	ns = open(path, O_RDONLY | O_CLOEXEC);
	if (ns < 0)
		return -errno;
	/* move_mount attaches only inside our own mount namespace: go there for the one call. */
	if (setns(ns, CLONE_NEWNS) < 0)
		return -errno;
	if (syscall(SYS_move_mount, tree, "", target, "",
		    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		r = -errno;
	if (setns(host_mntns, CLONE_NEWNS) < 0 || fchdir(host_root) < 0 || chroot(".") < 0 ||
	    fchdir(host_cwd) < 0)
		abort(); /* a worker stuck in a container's namespace must not serve anyone else */
	return r;
}

int ic_bind_host_node(pid_t tid, const char *src, int target)
{
	_cleanup_close_ int tree = -EBADF;

	/* A detached copy of the host's node mount: it keeps the host mount's flags (not nodev). */
	tree = (int)syscall(SYS_open_tree, AT_FDCWD, src, OPEN_TREE_CLONE | O_CLOEXEC);
	if (tree < 0)
		return -errno;
	return ic_attach_tree(tid, tree, target);
}
