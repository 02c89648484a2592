/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/loop.h>
#include <linux/mount.h>
#include <stdio.h>
#include <string.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/caller.h"
#include "common/fsctx.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/proc.h"
#include "handlers/decode.h"
#include "handlers/handlers.h"

#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif

#define LOOP_TRIES 8

enum mount_mode {
	MOUNT_NONE = 0,
	MOUNT_ALLOWED = 1, /* mounted with host privilege */
	MOUNT_SHIFT = 2,   /* the same, idmapped to the container's user namespace */
	MOUNT_FUSE = 3,	   /* a FUSE helper run as the caller */
	_MOUNT_MAX
};

static const char *const mode_names[_MOUNT_MAX] = {[MOUNT_NONE] = "none",
						   [MOUNT_ALLOWED] = "allowed",
						   [MOUNT_SHIFT] = "shift",
						   [MOUNT_FUSE] = "fuse"};

/* A loop device over the image file (opened by the caller's rights), cleared by the kernel once
 * its last user (the mount) is gone. Returns its fd and name. */
static int loop_attach(int backing, bool rdonly, char *name, size_t len)
{
	_cleanup_close_ int ctl = -EBADF;

	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return -errno;
	for (int i = 0; i < LOOP_TRIES; i++) {
		struct loop_config cfg = {
		    .fd = (uint32_t)backing,
		    .info.lo_flags = LO_FLAGS_AUTOCLEAR | (rdonly ? LO_FLAGS_READ_ONLY : 0),
		};
		int n = ioctl(ctl, LOOP_CTL_GET_FREE), fd;

		if (n < 0)
			return -errno;
		snprintf(name, len, "/dev/loop%d", n);
		fd = open(name, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (ioctl(fd, LOOP_CONFIGURE, &cfg) == 0)
			return fd;
		close(fd);
		if (errno != EBUSY)
			return -errno;
		/* Someone took it between GET_FREE and CONFIGURE: the next one. */
	}
	return -EBUSY;
}

/* Whether the caller's ids grant want (4 read, 2 write) by the mode bits of st. */
static bool caller_may(const struct ic_caller *c, const struct stat *st, unsigned want)
{
	unsigned bits = st->st_mode & 7;
	bool in_group = st->st_gid == c->fsgid;

	for (int i = 0; i < c->n_groups && !in_group; i++)
		in_group = c->groups[i] == st->st_gid;
	if (st->st_uid == c->fsuid)
		bits = (st->st_mode >> 6) & 7;
	else if (in_group)
		bits = (st->st_mode >> 3) & 7;
	return (bits & want) == want;
}

/* Pass "a,b=c" to the filesystem context as fsconfig keys. */
static int apply_options(int fsfd, char *data)
{
	char *cursor = data, *key, *value;

	while ((key = ic_mount_option_next(&cursor, &value))) {
		int r = value ? (int)syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, key, value, 0)
			      : (int)syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, key, NULL, 0);

		if (r < 0)
			return -errno;
	}
	return 0;
}

/* A filesystem context for fstype with its source and options set, not yet created: the
 * caller of this runs FSCONFIG_CMD_CREATE where the source must resolve. Returns the fd. */
static int mount_context(const char *fstype, const char *source, char *data, unsigned long flags)
{
	_cleanup_close_ int fsfd = -EBADF;

	fsfd = (int)syscall(SYS_fsopen, fstype, FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return -errno;
	if (syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "source", source, 0) < 0)
		return -errno;
	if (data[0] && apply_options(fsfd, data) < 0)
		return -errno;
	if ((flags & MS_RDONLY) &&
	    syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0)
		return -errno;
	return TAKE_FD(fsfd);
}

static int mount_create(int fsfd)
{
	return syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0 ? -errno : 0;
}

/* The created context as a detached mount: returns an fsmount fd or -errno (the kernel's:
 * ENODEV, EINVAL for a corrupt image, ...). */
static int make_mount(int fsfd, unsigned long flags, bool allow_dev_suid, int userns_fd)
{
	int mfd;

	mfd = (int)syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC,
			   (unsigned)ic_mount_attrs(flags, allow_dev_suid));
	if (mfd < 0)
		return -errno;
	if (userns_fd >= 0) {
		struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP,
					  .userns_fd = (uint64_t)userns_fd};

		if (syscall(SYS_mount_setattr, mfd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) {
			int err = -errno;

			close(mfd);
			return err;
		}
	}
	return mfd;
}

/* Inside the caller's scope, right after the kernel resolved source: it must still name the
 * device we checked. A filesystem on a block device reports that device as its st_dev, which
 * settles it (the name could have been swapped and back); one with an anonymous device number
 * (btrfs) can only be checked by the name. */
static bool still_names(const char *source, dev_t rdev)
{
	_cleanup_close_ int fd = ic_open_as_caller(source, true);
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 && S_ISBLK(st.st_mode) && st.st_rdev == rdev;
}

static bool mounted_from(int mfd, dev_t rdev)
{
	struct stat st;

	return fstat(mfd, &st) == 0 && (major(st.st_dev) == 0 || st.st_dev == rdev);
}

/* mount(2) refuses the filesystem already mounted right at the target (EBUSY, which mount(8)
 * reports as "already mounted"); move_mount would stack it. */
static bool already_there(int mfd, int tgt)
{
	struct statx a, b;

	if (statx(mfd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &a) < 0 ||
	    statx(tgt, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &b) < 0)
		return false;
	return a.stx_dev_major == b.stx_dev_major && a.stx_dev_minor == b.stx_dev_minor &&
	       (b.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	       (b.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

#define FUSE_ARGV_MAX	   8
#define FUSE_EXIT_NOHELPER 127

/* Join every cgroup of the caller: the FUSE daemon is the container's, counted and killed with
 * it. Paths are the host's; called in the forked child before it leaves our namespaces. */
static void join_cgroups(const struct ic_container_info *ct, const char *unified)
{
	const char *dirs[3] = {ct->cgroup.memory, ct->cgroup.pids, unified};
	char path[IC_CGROUP_PATH_MAX + 32], pid[16];
	int n = snprintf(pid, sizeof(pid), "%d", (int)getpid());

	for (int i = 0; i < 3; i++) {
		int fd;

		if (!dirs[i] || !dirs[i][0])
			continue;
		snprintf(path, sizeof(path), "%s/cgroup.procs", dirs[i]);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (write(fd, pid, (size_t)n) < 0) {
				/* best effort: the pid namespace still ends it with the container
				 */
			}
			close(fd);
		}
	}
}

/* Run "helper source target [-o options]" as the caller, inside the container: its user, mount,
 * pid, cgroup, ipc and uts namespaces, its root and cwd, its ids, its cgroups. The one path that
 * forks; bounded by the request's deadline. Returns 0 once the helper reports the mount made. */
static int fuse_mount(struct ic_req *req, const struct ic_caller *caller, const char *helper,
		      const char *source, const char *target, const char *options, int rootfd,
		      int cwdfd, uint64_t deadline_ns)
{
	static const char *const envp[] = {
	    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL};
	const char *argv[FUSE_ARGV_MAX] = {helper, source, target};
	unsigned uid = ic_userns_uid_inside(&req->ct->userns, caller->euid);
	unsigned gid = ic_userns_gid_inside(&req->ct->userns, caller->fsgid);
	char unified[IC_CGROUP_PATH_MAX] = "";
	_cleanup_close_ int pidfd = -EBADF, child = -EBADF;
	int argc = 3, status;
	pid_t pid;

	if (uid == (unsigned)-1 || gid == (unsigned)-1)
		return -EPERM;
	if (options[0]) {
		argv[argc++] = "-o";
		argv[argc++] = options;
	}
	argv[argc] = NULL;
	(void)ic_cgroup2_dir(req->ct->init_pid, unified, sizeof(unified));
	pidfd = ic_pidfd_open((pid_t)req->notif->pid, O_EXCL);
	if (pidfd < 0)
		return pidfd;

	/* From here to exec: async-signal-safe calls only (we are one thread of many). */
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		pid_t helper_pid;

		setpgid(0, 0);
		join_cgroups(req->ct, unified);
		if (setns(pidfd, CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWCGROUP |
				     CLONE_NEWIPC | CLONE_NEWUTS) < 0)
			_exit(126);
		if (fchdir(rootfd) < 0 || chroot(".") < 0 || fchdir(cwdfd) < 0)
			_exit(126);
		if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0)
			_exit(126);
		/* Only a child of ours lands in the pid namespace we joined. */
		helper_pid = fork();
		if (helper_pid < 0)
			_exit(126);
		if (helper_pid == 0) {
			execvpe(helper, (char *const *)argv, (char *const *)envp);
			/* Missing or not runnable in the container's root. */
			_exit(FUSE_EXIT_NOHELPER);
		}
		while (waitpid(helper_pid, &status, 0) < 0)
			if (errno != EINTR)
				_exit(126);
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 126);
	}

	child = ic_pidfd_open(pid, 0);
	for (;;) {
		uint64_t now = ic_now_ns();
		struct pollfd p = {.fd = child, .events = POLLIN};

		if (now >= deadline_ns || child < 0 ||
		    poll(&p, 1, (int)((deadline_ns - now) / 1000000ULL) + 1) == 0) {
			if (ic_now_ns() < deadline_ns && child >= 0)
				continue;
			kill(-pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return -ETIMEDOUT;
		}
		if (p.revents)
			break;
	}
	if (waitpid(pid, &status, 0) != pid)
		return -ECHILD;
	log_debug("container %s: FUSE helper %s: exit status %d", req->ct->id, helper,
		  WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 126)
		return -EINVAL;
	if (WEXITSTATUS(status) == FUSE_EXIT_NOHELPER)
		return -ENODEV;
	return WEXITSTATUS(status) == 0 ? 0 : -EINVAL;
}

/* mount(source, target, fstype, flags, data) for fstypes the policy lists in mount.allowed:
 * made with host privilege in the worker, idmapped with mount.shift, then attached at the target
 * in the caller's mount namespace. Paths are the caller's: resolved in its root and cwd, as it. */
IC_HANDLER(ic_handle_mount)
{
	const __u64 *a = req->notif->data.args;
	const struct ic_policy *p = req->policy;
	pid_t tid = (pid_t)req->notif->pid;
	_cleanup_close_ int root = -EBADF, cwd = -EBADF, src = -EBADF, tgt = -EBADF, loop = -EBADF;
	_cleanup_close_ int userns = -EBADF, mfd = -EBADF, image = -EBADF, fsfd = -EBADF;
	_cleanup_fsctx_ struct ic_fsctx_scope as_caller = {0};
	struct ic_mount_args m;
	const char *fstype = m.fstype, *source = m.source, *target = m.target;
	char *data = m.data, dev[64];
	unsigned long flags;
	enum mount_mode mode = MOUNT_NONE;
	bool swapped = false;
	struct ic_caller caller;
	enum ic_verdict v;
	struct stat st;
	int r;

	/* The filter keeps these away; a caller racing it still gets the kernel. */
	if (((unsigned long)a[3] & IC_MOUNT_SKIP_FLAGS) || ic_mount_read_fstype(tid, a, &m) < 0)
		return IC_VERDICT_CONTINUE;
	flags = m.flags;
	if (ic_mount_list_has(p->mount_allowed, fstype))
		mode = p->mount_shift ? MOUNT_SHIFT : MOUNT_ALLOWED;
	else if (ic_mount_list_has(p->mount_fuse, fstype))
		mode = MOUNT_FUSE;
	if (mode == MOUNT_NONE)
		return IC_VERDICT_CONTINUE;
	v = ic_caller_check(req, &caller, CAP_SYS_ADMIN);
	if (v != IC_VERDICT_RESPOND)
		return v;

	r = ic_mount_read_rest(tid, a, &m);
	if (r == -EFAULT || r == -ENAMETOOLONG) {
		resp->error = -r;
		return IC_VERDICT_RESPOND;
	}
	if (r < 0)
		return IC_VERDICT_GONE;

	v = ic_caller_open_dirs(req, &caller, &root, &cwd);
	if (v != IC_VERDICT_RESPOND)
		return v;
	if (mode == MOUNT_FUSE) {
		char helper[256], options[IC_MOUNT_DATA_MAX + 64];

		if (!ic_mount_fuse_helper(p->mount_fuse, fstype, helper, sizeof(helper)))
			return IC_VERDICT_CONTINUE;
		ic_mount_fuse_options(flags, data, options, sizeof(options));
		r = req->still_valid(req);
		if (r < 0)
			return ic_verdict_of(r);
		r = fuse_mount(req, &caller, helper, source, target, options, root, cwd,
			       req->deadline_ns);
		if (r == -ETIMEDOUT)
			return IC_VERDICT_FAILED;
		if (r == 0)
			log_info("container %s: pid %d mount %s on %s type %s (fuse: %s): done",
				 req->ct->id, (int)tid, source, target, fstype, helper);
		resp->error = -r;
		return IC_VERDICT_RESPOND;
	}
	r = ic_fsctx_scope_enter(&as_caller, &caller, root, cwd, 0);
	if (r < 0)
		return IC_VERDICT_FAILED;
	/* Both as the caller would name them, never through a /proc magic link. */
	src = ic_open_as_caller(source, true);
	tgt = ic_open_as_caller(target, true);
	/* An image is opened by the caller's rights (read-write unless MS_RDONLY): a file it may
	 * only read must not become a writable filesystem. Non-blocking, so a FIFO swapped in
	 * cannot hold us; it must then still be the very inode we resolved. */
	if (src >= 0 && fstat(src, &st) == 0 && S_ISREG(st.st_mode)) {
		struct stat again;

		image = ic_open_file_as_caller(source, (flags & MS_RDONLY ? O_RDONLY : O_RDWR) |
							   O_NONBLOCK | O_NOCTTY);
		if (image >= 0 && (fstat(image, &again) < 0 || again.st_ino != st.st_ino ||
				   again.st_dev != st.st_dev || !S_ISREG(again.st_mode)))
			image = -EBUSY;
	}
	ic_fsctx_scope_leave(&as_caller);
	if (src < 0 || tgt < 0) {
		resp->error = -(src < 0 ? src : tgt);
		return IC_VERDICT_RESPOND;
	}

	if (fstat(src, &st) < 0)
		return IC_VERDICT_FAILED;
	if (S_ISBLK(st.st_mode)) {
		/* The kernel opens it for the mount; the caller must have the rights it asks for.
		 */
		if (!caller_may(&caller, &st, flags & MS_RDONLY ? 4 : 6)) {
			resp->error = EACCES;
			return IC_VERDICT_RESPOND;
		}
	} else if (S_ISREG(st.st_mode)) {
		if (image < 0) {
			resp->error = -image;
			return IC_VERDICT_RESPOND;
		}
		loop = loop_attach(image, flags & MS_RDONLY, dev, sizeof(dev));
		if (loop < 0) {
			log_warn_errno(loop, "container %s: mount %s: no loop device: %m",
				       req->ct->id, source);
			resp->error = EBUSY;
			return IC_VERDICT_RESPOND;
		}
	} else {
		resp->error = ENOTBLK; /* what the kernel says of a source that is neither */
		return IC_VERDICT_RESPOND;
	}
	if (mode == MOUNT_SHIFT) {
		char ns[64];

		snprintf(ns, sizeof(ns), "/proc/%d/ns/user", (int)req->ct->init_pid);
		userns = open(ns, O_RDONLY | O_CLOEXEC);
		if (userns < 0)
			return IC_VERDICT_FAILED;
	}
	/* A device keeps the caller's name, so that findmnt, df and umount(8) see what it
	 * mounted: the kernel records the source string and resolves it when the context is
	 * created, so that is done in the caller's root and cwd. */
	fsfd = mount_context(fstype, S_ISBLK(st.st_mode) ? source : dev, data, flags);
	if (fsfd < 0) {
		resp->error = -fsfd;
		return IC_VERDICT_RESPOND;
	}
	r = req->still_valid(req);
	if (r < 0)
		return ic_verdict_of(r);
	if (S_ISBLK(st.st_mode)) {
		r = ic_fsctx_scope_enter(&as_caller, &caller, root, cwd, 1ULL << CAP_SYS_ADMIN);
		if (r < 0)
			return IC_VERDICT_FAILED;
		r = mount_create(fsfd);
		swapped = r == 0 && !still_names(source, st.st_rdev);
		ic_fsctx_scope_leave(&as_caller);
	} else {
		r = mount_create(fsfd);
	}
	mfd = r < 0 ? r : make_mount(fsfd, flags, p->mount_allow_dev_suid, userns);
	r = mfd < 0 ? mfd : 0;
	/* The kernel resolved the name again: the caller may have swapped it meanwhile. */
	if (r == 0 && S_ISBLK(st.st_mode) && (swapped || !mounted_from(mfd, st.st_rdev))) {
		log_warn("container %s: pid %d mount %s: the device changed under us", req->ct->id,
			 (int)tid, source);
		r = -EACCES;
	}
	if (r == 0 && already_there(mfd, tgt))
		r = -EBUSY;
	if (r == 0)
		r = ic_attach_tree(tid, mfd, tgt);
	if (r == 0)
		log_info("container %s: pid %d mount %s on %s type %s (%s): done", req->ct->id,
			 (int)tid, source, target, fstype, mode_names[mode]);
	/* A loop device we attached goes with its last user: the mount, or nobody. */
	resp->error = -r;
	return IC_VERDICT_RESPOND;
}
