/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/caller.h"
#include "common/macros.h"

static bool parse_ids(const char *line, const char *key, unsigned long *v4)
{
	size_t kl = strlen(key);

	if (strncmp(line, key, kl) != 0)
		return false;
	return sscanf(line + kl, "%lu %lu %lu %lu", &v4[0], &v4[1], &v4[2], &v4[3]) == 4;
}

/* buf: the whole status, len bytes, writable. */
static int parse_status(char *buf, size_t len, struct ic_caller *c)
{
	char *line, *save = NULL;
	unsigned long ids[4];
	bool have_uid = false, have_gid = false, have_cap = false, have_umask = false;

	buf[len] = 0;
	/* Only whole lines count. */
	if (len && buf[len - 1] != '\n') {
		char *nl = strrchr(buf, '\n');

		if (!nl)
			return -EIO;
		nl[1] = 0;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (parse_ids(line, "Uid:", ids)) {
			c->euid = (uid_t)ids[1];
			c->fsuid = (uid_t)ids[3];
			have_uid = true;
		} else if (parse_ids(line, "Gid:", ids)) {
			c->fsgid = (gid_t)ids[3];
			have_gid = true;
		} else if (strncmp(line, "CapEff:", 7) == 0) {
			const char *h = line + 7 + strspn(line + 7, " \t");

			have_cap = strspn(h, "0123456789abcdef") == 16 && h[16] == 0 &&
				   sscanf(h, "%" SCNx64, &c->cap_eff) == 1;
		} else if (strncmp(line, "Umask:", 6) == 0) {
			unsigned m;

			have_umask = sscanf(line + 6, "%o", &m) == 1;
			c->umask = (mode_t)(m & 0777);
		} else if (strncmp(line, "Groups:", 7) == 0) {
			char *p = line + 7, *end;

			for (;;) {
				unsigned long g = strtoul(p, &end, 10);

				if (end == p)
					break;
				if (c->n_groups >= IC_CALLER_GROUPS_MAX)
					return -E2BIG;
				c->groups[c->n_groups++] = (gid_t)g;
				p = end;
			}
		}
	}
	if (!have_uid || !have_gid || !have_cap || !have_umask)
		return -EIO;
	return 0;
}

/* The host's /proc, for every thread: opened once, in the host's root. */
static int proc_fd = -EBADF;
/* Per thread: the tasks it keeps (workers), or the one it read last (others). */
static __thread struct ic_task tasks[IC_CALLER_TASKS_CACHED];
static __thread unsigned tasks_next;
static __thread bool tasks_keep;

int ic_caller_proc_init(void)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	int fd, r = 0;

	pthread_mutex_lock(&lock);
	if (__atomic_load_n(&proc_fd, __ATOMIC_ACQUIRE) < 0) {
		fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			r = -errno;
		else
			__atomic_store_n(&proc_fd, fd, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&lock);
	return r;
}

int ic_caller_proc_at(const char *what, int flags)
{
	int dir = __atomic_load_n(&proc_fd, __ATOMIC_ACQUIRE), fd;
	char path[64];

	if (dir < 0) {
		snprintf(path, sizeof(path), "/proc/%s", what);
		fd = open(path, flags | O_CLOEXEC);
	} else {
		fd = openat(dir, what, flags | O_CLOEXEC);
	}
	return fd < 0 ? -errno : fd;
}

int ic_caller_proc_dirfd(void)
{
	return __atomic_load_n(&proc_fd, __ATOMIC_ACQUIRE);
}

static void task_close(struct ic_task *t)
{
	if (t->dir >= 0)
		close(t->dir);
	if (t->status >= 0)
		close(t->status);
	t->tid = 0;
	t->dir = t->status = -EBADF;
}

void ic_caller_cache_enable(void)
{
	for (unsigned i = 0; i < IC_CALLER_TASKS_CACHED; i++)
		if (!tasks[i].tid)
			tasks[i].dir = tasks[i].status = -EBADF;
	tasks_keep = true;
}

void ic_caller_cache_drop(void)
{
	for (unsigned i = 0; i < IC_CALLER_TASKS_CACHED; i++)
		if (tasks[i].tid)
			task_close(&tasks[i]);
}

static int task_open(struct ic_task *t, pid_t tid)
{
	char what[32];
	int r;

	snprintf(what, sizeof(what), "%d", (int)tid);
	r = ic_caller_proc_at(what, O_PATH | O_DIRECTORY);
	if (r < 0)
		return r == -ENOENT ? -ESRCH : r;
	t->dir = r;
	t->status = openat(t->dir, "status", O_RDONLY | O_CLOEXEC);
	if (t->status < 0) {
		r = errno == ENOENT ? -ESRCH : -errno;
		close(t->dir);
		t->dir = -EBADF;
		return r;
	}
	t->tid = tid;
	return 0;
}

/* One pread from the start: a seq_file gives all it has, so a short read is the whole file. */
static ssize_t task_status(struct ic_task *t, char *buf, size_t size)
{
	ssize_t n = pread(t->status, buf, size - 1, 0);

	if (n < 0)
		return -errno;
	return (size_t)n >= size - 1 ? -E2BIG : n;
}

int ic_caller_read(pid_t tid, struct ic_caller *c)
{
	char buf[16384];
	struct ic_task *t = NULL;
	ssize_t n = -ESRCH;
	int r;

	memset(c, 0, sizeof(*c));
	c->tid = tid;
	if (tid <= 0)
		return -ESRCH;
	if (tasks_keep)
		for (unsigned i = 0; i < IC_CALLER_TASKS_CACHED; i++)
			if (tasks[i].tid == tid) {
				t = &tasks[i];
				break;
			}
	/* A kept entry whose task is gone reads ESRCH: tid may be someone else's by now. */
	if (t)
		n = task_status(t, buf, sizeof(buf));
	if (n == -ESRCH) {
		if (!t) {
			t = &tasks[tasks_keep ? tasks_next++ % IC_CALLER_TASKS_CACHED : 0];
			if (!t->tid)
				t->dir = t->status = -EBADF;
		}
		task_close(t);
		r = task_open(t, tid);
		if (r < 0)
			return r;
		n = task_status(t, buf, sizeof(buf));
	}
	if (n < 0)
		return (int)n;
	c->task = t;
	return parse_status(buf, (size_t)n, c);
}

int ic_caller_in_userns(const struct ic_caller *c, const struct ic_userns *ns, bool *same)
{
	struct stat st;

	if (fstatat(c->task->dir, "ns/user", &st, 0) < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	*same = ns->known && st.st_dev == ns->dev && st.st_ino == ns->ino;
	return 0;
}

static int open_task(const struct ic_caller *c, const char *what, int flags)
{
	int fd = openat(c->task->dir, what, flags | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int ic_caller_open_root(const struct ic_caller *c)
{
	return open_task(c, "root", O_PATH | O_DIRECTORY);
}

int ic_caller_open_cwd(const struct ic_caller *c)
{
	return open_task(c, "cwd", O_PATH | O_DIRECTORY);
}

int ic_caller_open_fd(const struct ic_caller *c, int fd, bool want_dir)
{
	char what[32];
	int r;

	if (fd < 0)
		return -EBADF;
	snprintf(what, sizeof(what), "fd/%d", fd);
	/* Following the magic link is the point: it leads to the caller's open file. */
	r = open_task(c, what, O_PATH | (want_dir ? O_DIRECTORY : 0));
	if (r == -ENOENT)
		return -EBADF; /* no such fd in the caller */
	return r;
}

int ic_caller_fd_flags(const struct ic_caller *c, int fd, unsigned *flags)
{
	_cleanup_close_ int info = -EBADF;
	char what[32], buf[512], *line;
	ssize_t n;

	if (fd < 0)
		return -EBADF;
	snprintf(what, sizeof(what), "fdinfo/%d", fd);
	info = open_task(c, what, O_RDONLY);
	if (info < 0)
		return -EBADF;
	n = read(info, buf, sizeof(buf) - 1);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	line = strstr(buf, "flags:");
	if (!line || (line != buf && line[-1] != '\n') || sscanf(line, "flags: %o", flags) != 1)
		return -EIO;
	return 0;
}

#ifndef AT_HANDLE_FID
#define AT_HANDLE_FID 0x200
#endif
#ifndef AT_HANDLE_MNT_ID_UNIQUE
#define AT_HANDLE_MNT_ID_UNIQUE 0x001
#endif

int ic_dir_id_at(int dirfd, const char *path, int flags, struct ic_dir_id *id)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + IC_DIR_ID_MAX];
	} u;

	memset(id, 0, sizeof(*id));
	u.fh.handle_bytes = IC_DIR_ID_MAX;
	/* A FID: identity only, so every filesystem that can name an inode gives one. The unique
	 * mount id is a u64 with AT_HANDLE_MNT_ID_UNIQUE. */
	if (syscall(SYS_name_to_handle_at, dirfd, path, &u.fh, &id->mnt,
		    flags | AT_HANDLE_FID | AT_HANDLE_MNT_ID_UNIQUE) < 0)
		return errno == EOVERFLOW || errno == EINVAL ? -EOPNOTSUPP : -errno;
	if (u.fh.handle_bytes > IC_DIR_ID_MAX)
		return -EOPNOTSUPP;
	id->type = u.fh.handle_type;
	id->len = u.fh.handle_bytes;
	memcpy(id->handle, u.fh.f_handle, id->len);
	return 0;
}

bool ic_dir_id_equal(const struct ic_dir_id *a, const struct ic_dir_id *b)
{
	return a->mnt && a->mnt == b->mnt && a->type == b->type && a->len == b->len &&
	       memcmp(a->handle, b->handle, a->len) == 0;
}

int ic_caller_root_id(const struct ic_caller *c, struct ic_dir_id *id)
{
	/* Follows the magic link to the root itself. */
	return ic_dir_id_at(c->task->dir, "root", AT_SYMLINK_FOLLOW, id);
}
