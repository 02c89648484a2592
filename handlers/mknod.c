/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/caller.h"
#include "common/fsctx.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/mem.h"
#include "common/path.h"
#include "handlers/handlers.h"

/* The character devices a container may create (doc/design.md §11), and the host node that
 * stands in for one where the container's filesystem refuses device nodes. */
/* clang-format off */
static const struct {
	unsigned major, minor;
	const char *host;
	/* The console is never made: a real 5:1 node the container owns would reach the host's
	 * console wherever devices are honoured, then or later (the node outlives the container),
	 * and the host's node bound on a placeholder breaks chown, utime, rm and re-extraction.
	 * The container gets a node of the null device under that name instead: its own, to chown,
	 * utime and remove like any node, and harmless wherever it ends up (doc/design.md §10). */
	bool null_stands_in;
} safe_devices[] = {
	{1, 3, "/dev/null", false},
	{1, 5, "/dev/zero", false},
	{1, 7, "/dev/full", false},
	{1, 8, "/dev/random", false},
	{1, 9, "/dev/urandom", false},
	{5, 0, "/dev/tty", false},
	{5, 1, "/dev/console", true},
};
/* clang-format on */

static const char *safe_device(unsigned major, unsigned minor, bool *null_stands_in)
{
	for (size_t i = 0; i < ARRAY_SIZE(safe_devices); i++)
		if (safe_devices[i].major == major && safe_devices[i].minor == minor) {
			*null_stands_in = safe_devices[i].null_stands_in;
			return safe_devices[i].host;
		}
	return NULL;
}

/* Whether the node we just made cannot be used for want of device access: MNT_NODEV, or
 * SB_I_NODEV on a filesystem a user namespace mounted, which statvfs does not show. Only a
 * node that is still the safe character device we created is opened (as root, without a
 * controlling terminal, closed at once): never a FIFO or anything the container swapped in. */
static bool node_unusable(int target, dev_t dev, uid_t owner)
{
	char link[64];
	struct stat st;
	int fd;

	if (fstat(target, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != dev ||
	    st.st_uid != owner)
		return false;
	/* By the host's /proc: the worker may stand in the container's root. */
	snprintf(link, sizeof(link), "self/fd/%d", target);
	fd = ic_caller_proc_at(link, O_RDONLY | O_NOCTTY | O_NONBLOCK);
	if (fd >= 0)
		close(fd);
	return fd == -EACCES;
}

#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U
#endif

/* Per container: whether the last mount a node was made on honours devices. The answer holds
 * for the whole mount (its flags and its superblock's): one device open per mount, not per
 * node. */
struct mknod_state {
	pthread_mutex_t lock;
	uint64_t mnt_id; /* the mount's unique id */
	int usable;	 /* -1 unknown, 0 no (nodev), 1 yes */
};

static void mknod_state_init(void *p)
{
	struct mknod_state *st = p;

	pthread_mutex_init(&st->lock, NULL);
	st->usable = -1;
}

static void mknod_state_fini(void *p)
{
	pthread_mutex_destroy(&((struct mknod_state *)p)->lock);
}

const struct ic_sys_state ic_mknod_state = {
    .size = sizeof(struct mknod_state),
    .init = mknod_state_init,
    .fini = mknod_state_fini,
};

/* Whether mount mnt_id (a unique id) honours device nodes, as far as ms knows: 1 yes, 0 no,
 * -1 unknown. */
static int mount_usable(struct mknod_state *ms, uint64_t mnt_id)
{
	int usable;

	pthread_mutex_lock(&ms->lock);
	usable = ms->usable >= 0 && ms->mnt_id == mnt_id ? ms->usable : -1;
	pthread_mutex_unlock(&ms->lock);
	return usable;
}

static void mount_learnt(struct mknod_state *ms, uint64_t mnt_id, bool usable)
{
	pthread_mutex_lock(&ms->lock);
	ms->mnt_id = mnt_id;
	ms->usable = usable;
	pthread_mutex_unlock(&ms->lock);
}

/* Whether the host's node really is the device: it is what the container will get. Checked
 * once per process: /dev does not change under a running daemon. */
static bool host_node_ok(const char *host, dev_t dev)
{
	static int known[ARRAY_SIZE(safe_devices)]; /* 0 unknown, 1 yes, -1 no */
	struct stat st;
	bool ok;

	for (size_t i = 0; i < ARRAY_SIZE(safe_devices); i++) {
		int k;

		if (safe_devices[i].host != host)
			continue;
		k = __atomic_load_n(&known[i], __ATOMIC_RELAXED);
		if (k)
			return k > 0;
		ok = stat(host, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == dev;
		__atomic_store_n(&known[i], ok ? 1 : -1, __ATOMIC_RELAXED);
		return ok;
	}
	return false;
}

/* Whether the owner's own permission bits let it create in directory st, so that no DAC
 * override is needed: the kernel uses a capability only where the mode refuses. */
static bool owner_may_create(const struct statx *st, uid_t fsuid)
{
	return st->stx_uid == fsuid && (st->stx_mode & 0300) == 0300;
}

/* mknod(path, mode, dev) and mknodat(dirfd, path, mode, dev). Worker threads. */
static enum ic_verdict handle(struct ic_req *req, struct ic_resp *resp, bool at)
{
	const __u64 *a = req->notif->data.args;
	int dirfd = at ? (int)a[0] : AT_FDCWD;
	uint64_t path_addr = at ? a[1] : a[0];
	mode_t mode = (mode_t)(uint32_t)(at ? a[2] : a[1]);
	dev_t dev = (dev_t)(uint32_t)(at ? a[3] : a[2]);
	pid_t tid = (pid_t)req->notif->pid;
	_cleanup_close_ int base = -EBADF, parent = -EBADF, target = -EBADF;
	_cleanup_fsctx_ struct ic_fsctx_scope as_caller = {0};
	char path[PATH_MAX], dir[PATH_MAX];
	const char *last, *host;
	struct ic_caller caller;
	bool nodev = false, null_stands_in = false, have_dir;
	struct statx pst;
	enum ic_verdict v;
	int r, w, usable;

	/* Whiteouts (0:0) the kernel allows unprivileged; block devices, FIFOs, sockets, files and
	 * other devices it judges itself. */
	if (!S_ISCHR(mode))
		return IC_VERDICT_CONTINUE;
	host = safe_device(major(dev), minor(dev), &null_stands_in);
	if (!host)
		return IC_VERDICT_CONTINUE;

	v = ic_caller_check(req, &caller, CAP_MKNOD);
	if (v != IC_VERDICT_RESPOND)
		return v;

	r = ic_read_string(tid, path_addr, path, sizeof(path));
	if (r == -EFAULT || r == -ENAMETOOLONG) {
		resp->error = -r;
		return IC_VERDICT_RESPOND;
	}
	if (r < 0)
		return IC_VERDICT_GONE;

	if (!path[0]) {
		resp->error = ENOENT; /* the kernel's answer to "", whatever dirfd is */
		return IC_VERDICT_RESPOND;
	}
	/* A relative path starts from the caller's cwd or dirfd; an absolute one needs neither. */
	if (path[0] != '/')
		base = dirfd != AT_FDCWD ? ic_caller_open_fd(&caller, dirfd, true)
					 : ic_caller_open_cwd(&caller);
	r = ic_fsctx_scope_enter_caller(&as_caller, &caller, 1ULL << CAP_MKNOD);
	/* The fds and the root above must be the notifying task's, not a recycled pid's. */
	w = req->still_valid(req);
	if (w < 0)
		return ic_verdict_of(w);
	if (r == -ENOENT || r == -ESRCH)
		return IC_VERDICT_GONE;
	if (r < 0) {
		log_warn_errno(r, "mknod: cannot act as pid %d: %m", (int)tid);
		return IC_VERDICT_FAILED;
	}
	if (path[0] != '/' && base < 0) {
		if (base != -EBADF && base != -ENOTDIR)
			return IC_VERDICT_GONE;
		resp->error = -base;
		return IC_VERDICT_RESPOND;
	}

	ic_path_split(path, dir, sizeof(dir), &last);
	parent = ic_open_dir_at_caller(base, dir);
	if (parent < 0) {
		r = parent;
		goto out;
	}
	r = req->still_valid(req);
	if (r < 0)
		return ic_verdict_of(r);
	/* Its owner for the DAC override, its mount (the node's) for whether devices work. */
	have_dir = statx(parent, "", AT_EMPTY_PATH,
			 STATX_UID | STATX_GID | STATX_MODE | STATX_MNT_ID_UNIQUE, &pst) == 0;
	/* The caller's own DAC override counts where the kernel would honour it: on a directory
	 * whose owner and group its namespace maps. (Directories on the way were searched with
	 * its ids alone.) */
	if ((caller.cap_eff & (1ULL << CAP_DAC_OVERRIDE)) && have_dir &&
	    !owner_may_create(&pst, caller.fsuid) &&
	    ic_userns_maps(&req->ct->userns, pst.stx_uid, pst.stx_gid))
		(void)ic_fsctx_raise(1ULL << CAP_DAC_OVERRIDE);
	if (mknodat(parent, last, mode, null_stands_in ? makedev(1, 3) : dev) < 0) {
		r = -errno;
		goto out;
	}
	/* A stand-in need not work, and must stay removable. Else, unless its mount is known to
	 * honour devices, the node is looked at. */
	have_dir = have_dir && (pst.stx_mask & STATX_MNT_ID_UNIQUE);
	usable = null_stands_in ? 1 : have_dir ? mount_usable(req->state, pst.stx_mnt_id) : -1;
	if (usable != 1)
		target = openat(parent, last, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	/* Parked: from here on fds only, until ic_fsctx_release. */
	ic_fsctx_scope_leave(&as_caller);
	if (target >= 0 && usable < 0) {
		usable = !node_unusable(target, dev, caller.fsuid);
		if (have_dir)
			mount_learnt(req->state, pst.stx_mnt_id, usable);
	}
	/* Where its filesystem will not honour a node (nodev, or a tmpfs a user namespace
	 * mounted), the host's node is bound over it so that it works. */
	if (target >= 0 && usable == 0) {
		nodev = true;
		ic_fsctx_release(); /* the host's paths and ids */
		r = host_node_ok(host, dev) ? ic_bind_host_node(tid, host, target) : -EPERM;
		if (r < 0) {
			struct stat made, now;

			log_warn_errno(r, "container %s: mknod %s: cannot bind %s: %m", req->ct->id,
				       path, host);
			/* Only what we made: the name may have been swapped meanwhile. */
			if (fstat(target, &made) == 0 &&
			    fstatat(parent, last, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
			    now.st_ino == made.st_ino && now.st_dev == made.st_dev)
				unlinkat(parent, last, 0);
			r = -EPERM;
		}
	}
out:
	if (r == 0)
		log_info("container %s: pid %d mknod %s c %u:%u%s: done", req->ct->id, (int)tid,
			 path, major(dev), minor(dev),
			 null_stands_in ? " (a null device node stands in for it)"
			 : nodev	? " (the host's node bound on it)"
					: "");
	resp->error = -r;
	return IC_VERDICT_RESPOND;
}

IC_HANDLER(ic_handle_mknod)
{
	return handle(req, resp, false);
}

IC_HANDLER(ic_handle_mknodat)
{
	return handle(req, resp, true);
}
