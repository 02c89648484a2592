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
#include <time.h>
#include <unistd.h>

#include "common/caller.h"
#include "common/fsctx.h"
#include "common/log.h"
#include "common/macros.h"

/* Per worker thread: what ic_fsctx_leave restores. */
static __thread int host_root = -1, host_cwd = -1, host_mntns = -1;
static __thread mode_t host_umask;
static __thread struct __user_cap_data_struct host_caps[2];
static __thread bool fsctx_ready;

/* Per worker thread: where it stands now. HOST: its own root and ids. SCOPE: a caller's, inside
 * a handler's scope. PARKED: a caller's root, ids and umask kept after the scope for the next
 * request (doc/design.md §10), with the host's capabilities back, so that the next request's
 * /proc and process_vm_readv access work; only fds may be used, and anything that needs a path
 * of the host calls ic_fsctx_release first. */
enum fs_state { FS_HOST = 0, FS_SCOPE, FS_PARKED };
static __thread enum fs_state fs_state;
/* CLOCK_MONOTONIC ns when the context was last parked (its last use). */
static __thread uint64_t parked_at;
/* What the thread's ids, umask and capabilities are now (host: 0, 0, none, host_umask). */
static __thread struct {
	uid_t fsuid;
	gid_t fsgid;
	int n_groups;
	gid_t groups[IC_CALLER_GROUPS_MAX];
	mode_t umask;
	struct __user_cap_data_struct caps[2];
	/* The root it stands in, when entered through ic_fsctx_scope_enter_caller and its
	 * filesystem names it (else no reuse). */
	bool root_known;
	struct ic_dir_id root;
} cur;

static int capget_self(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};

	return syscall(SYS_capget, &h, data) < 0 ? -errno : 0;
}

static int capset_self(const struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};

	if (syscall(SYS_capset, &h, data) < 0)
		return -errno;
	memcpy(cur.caps, data, sizeof(cur.caps));
	return 0;
}

static bool caps_equal(const struct __user_cap_data_struct a[2],
		       const struct __user_cap_data_struct b[2])
{
	return memcmp(a, b, 2 * sizeof(a[0])) == 0;
}

int ic_fsctx_thread_init(void)
{
	int r;

	if (fsctx_ready)
		return 0;
	if (unshare(CLONE_FS) < 0)
		return -errno;
	/* Before the thread ever stands in a container's root. */
	r = ic_caller_proc_init();
	if (r < 0)
		return r;
	host_root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	host_cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	host_mntns = open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (host_root < 0 || host_cwd < 0 || host_mntns < 0)
		return -errno;
	if (capget_self(host_caps) < 0)
		return -errno;
	memcpy(cur.caps, host_caps, sizeof(cur.caps));
	host_umask = umask(0);
	umask(host_umask);
	cur.umask = host_umask;
	cur.fsuid = 0;
	cur.fsgid = 0;
	cur.n_groups = 0;
	ic_caller_cache_enable();
	ic_log_set_path_guard(ic_fsctx_host_paths);
	fsctx_ready = true;
	return 0;
}

static void back_to_host_root(void)
{
	if (fchdir(host_root) < 0 || chroot(".") < 0 || fchdir(host_cwd) < 0)
		abort(); /* a worker stuck in a container's root must not serve anyone else */
	cur.root_known = false;
}

static void host_caps_back(void)
{
	if (!caps_equal(cur.caps, host_caps) && capset_self(host_caps) < 0)
		abort(); /* a worker left with a container's identity must not serve anyone else */
}

/* Raw syscalls throughout: glibc's setgroups and friends change every thread of the process. */
static void restore_ids(void)
{
	static const gid_t none[1];

	/* Capabilities first: setgroups needs CAP_SETGID, which the caller's set lacked. With
	 * them back, the rest cannot fail; fsuid 0 then raises nothing we do not already have. */
	host_caps_back();
	if (cur.n_groups && syscall(SYS_setgroups, 0, none) < 0)
		abort();
	cur.n_groups = 0;
	if (cur.fsuid)
		syscall(SYS_setfsuid, 0);
	if (cur.fsgid)
		syscall(SYS_setfsgid, 0);
	cur.fsuid = 0;
	cur.fsgid = 0;
}

static void restore_all(void)
{
	if (cur.umask != host_umask)
		umask(host_umask);
	cur.umask = host_umask;
	restore_ids();
	back_to_host_root();
	fs_state = FS_HOST;
}

/* Take c's ids, umask and of our capabilities exactly keep_caps, each only where it differs
 * from what the thread has now. On failure the ids may be half switched: restore_all. */
static int take_ids(const struct ic_caller *c, uint64_t keep_caps)
{
	struct __user_cap_data_struct caps[2];
	bool groups_differ =
	    c->n_groups != cur.n_groups ||
	    memcmp(c->groups, cur.groups, (size_t)c->n_groups * sizeof(gid_t)) != 0;
	bool fsuid_changed = false;
	int r;

	if (groups_differ || c->fsgid != cur.fsgid || c->fsuid != cur.fsuid) {
		/* setgroups needs CAP_SETGID, setfs[ug]id CAP_SET[UG]ID: the host's set. */
		host_caps_back();
		if (groups_differ) {
			if (syscall(SYS_setgroups, (size_t)c->n_groups, c->groups) < 0)
				return -errno;
			cur.n_groups = c->n_groups;
			memcpy(cur.groups, c->groups, (size_t)c->n_groups * sizeof(gid_t));
		}
		/* We hold CAP_SETUID and CAP_SETGID here (the host set): these cannot fail. */
		if (c->fsgid != cur.fsgid) {
			syscall(SYS_setfsgid, c->fsgid);
			cur.fsgid = c->fsgid;
		}
		if (c->fsuid != cur.fsuid) {
			syscall(SYS_setfsuid, c->fsuid);
			cur.fsuid = c->fsuid;
			fsuid_changed = true; /* the kernel changed the effective set itself */
		}
	}
	/* A non-root fsuid drops the fs capabilities by itself; set exactly what we keep. */
	memcpy(caps, host_caps, sizeof(caps));
	caps[0].effective = (uint32_t)(keep_caps & host_caps[0].permitted);
	caps[1].effective = (uint32_t)((keep_caps >> 32) & host_caps[1].permitted);
	if (fsuid_changed || !caps_equal(caps, cur.caps)) {
		r = capset_self(caps);
		if (r < 0)
			return r;
	}
	if (c->umask != cur.umask) {
		umask(c->umask);
		cur.umask = c->umask;
	}
	return 0;
}

void ic_fsctx_release(void)
{
	if (fs_state == FS_PARKED)
		restore_all();
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

bool ic_fsctx_release_stale(unsigned max_ms)
{
	if (fs_state != FS_PARKED || now_ns() - parked_at < (uint64_t)max_ms * 1000000ULL)
		return false;
	restore_all();
	return true;
}

bool ic_fsctx_parked(void)
{
	return fs_state == FS_PARKED;
}

bool ic_fsctx_host_paths(void)
{
	ic_fsctx_release();
	return fs_state == FS_HOST;
}

int ic_fsctx_enter(const struct ic_caller *c, int rootfd, int cwdfd, uint64_t keep_caps)
{
	int r;

	if (!fsctx_ready)
		return -EINVAL;
	ic_fsctx_release();
	/* Ours alone even if a thread was created from this one since (it would share it). */
	if (unshare(CLONE_FS) < 0)
		return -errno;
	if (fchdir(rootfd) < 0 || chroot(".") < 0 || fchdir(cwdfd) < 0) {
		r = -errno;
		back_to_host_root();
		return r;
	}
	fs_state = FS_SCOPE;
	r = take_ids(c, keep_caps);
	if (r < 0)
		restore_all();
	return r;
}

int ic_fsctx_raise(uint64_t caps)
{
	struct __user_cap_data_struct now[2];

	memcpy(now, cur.caps, sizeof(now));
	now[0].effective |= (uint32_t)caps & now[0].permitted;
	now[1].effective |= (uint32_t)(caps >> 32) & now[1].permitted;
	return caps_equal(now, cur.caps) ? 0 : capset_self(now);
}

void ic_fsctx_leave(void)
{
	restore_all();
}

int ic_fsctx_scope_enter(struct ic_fsctx_scope *s, const struct ic_caller *c, int rootfd, int cwdfd,
			 uint64_t keep_caps)
{
	int r = ic_fsctx_enter(c, rootfd, cwdfd, keep_caps);

	s->entered = r == 0;
	s->park = false;
	return r;
}

int ic_fsctx_scope_enter_caller(struct ic_fsctx_scope *s, const struct ic_caller *c,
				uint64_t keep_caps)
{
	_cleanup_close_ int root = -EBADF;
	struct ic_dir_id id;
	int r;

	s->entered = false;
	s->park = false;
	if (!fsctx_ready)
		return -EINVAL;
	/* The parked root serves again only if it is the very directory, on the very mount, the
	 * caller stands in now: a chroot, pivot_root or another mount namespace since gives
	 * another mount or inode. */
	if (fs_state == FS_PARKED && cur.root_known && ic_caller_root_id(c, &id) == 0 &&
	    ic_dir_id_equal(&id, &cur.root))
		goto ids;
	root = ic_caller_open_root(c);
	if (root < 0)
		return root;
	/* From the host: ours alone even if a thread was created from this one since (it would
	 * share it). Parked, the ids stay: take_ids changes only what differs. */
	if (fs_state != FS_PARKED && unshare(CLONE_FS) < 0)
		return -errno;
	if (fchdir(root) < 0 || chroot(".") < 0) {
		r = -errno;
		restore_all();
		return r;
	}
	/* Of the directory we stand in, not of what the caller's link names by now. */
	cur.root_known = ic_dir_id_at(root, "", AT_EMPTY_PATH, &cur.root) == 0;
ids:
	fs_state = FS_SCOPE;
	r = take_ids(c, keep_caps);
	if (r < 0) {
		restore_all();
		return r;
	}
	s->entered = true;
	s->park = true;
	return 0;
}

void ic_fsctx_scope_leave(struct ic_fsctx_scope *s)
{
	if (!s->entered)
		return;
	s->entered = false;
	if (!s->park) {
		ic_fsctx_leave();
		return;
	}
	/* Parked: the caller's root and ids stay for the next request, our capabilities come
	 * back. Should they not, nothing stays. */
	if (!caps_equal(cur.caps, host_caps) && capset_self(host_caps) < 0) {
		restore_all();
		return;
	}
	fs_state = FS_PARKED;
	parked_at = now_ns();
}

static int open_how(int base, const char *path, uint64_t flags)
{
	struct open_how how = {
	    .flags = flags | O_CLOEXEC,
	    /* The caller's root is our root now; its /proc magic links would lead to us. */
	    .resolve = RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, base, path, &how, sizeof(how));

	return fd < 0 ? -errno : fd;
}

int ic_open_dir_as_caller(const char *dir)
{
	return open_how(AT_FDCWD, dir, O_PATH | O_DIRECTORY);
}

int ic_open_as_caller(const char *path, bool follow)
{
	return open_how(AT_FDCWD, path, O_PATH | (follow ? 0 : O_NOFOLLOW));
}

int ic_open_file_as_caller(const char *path, int flags)
{
	return open_how(AT_FDCWD, path, (uint64_t)flags);
}

int ic_open_dir_at_caller(int base, const char *dir)
{
	return open_how(dir[0] == '/' ? AT_FDCWD : base, dir, O_PATH | O_DIRECTORY);
}

int ic_open_at_caller(int base, const char *path, bool follow)
{
	return open_how(path[0] == '/' ? AT_FDCWD : base, path, O_PATH | (follow ? 0 : O_NOFOLLOW));
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
	ic_fsctx_release();
	snprintf(path, sizeof(path), "%d/ns/mnt", (int)tid);
	ns = ic_caller_proc_at(path, O_RDONLY);
	if (ns < 0)
		return ns;
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

	/* The host's node, by the host's path. */
	ic_fsctx_release();
	/* A detached copy of the host's node mount: it keeps the host mount's flags (not nodev). */
	tree = (int)syscall(SYS_open_tree, AT_FDCWD, src, OPEN_TREE_CLONE | O_CLOEXEC);
	if (tree < 0)
		return -errno;
	return ic_attach_tree(tid, tree, target);
}
