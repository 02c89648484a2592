/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cgroup-create.h"
#include "common/cgroup.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/parse.h"

#define CG_PARENT	 "interceptd"
#define CG_RMDIR_TRIES	 20
#define CG_RMDIR_WAIT_NS (50 * 1000 * 1000L)

static int write_file(const char *dir, const char *name, const char *val, char *err, size_t errlen)
{
	char path[IC_CGROUP_PATH_MAX + 64];
	_cleanup_close_ int fd = -EBADF;
	size_t len = strlen(val);
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return ic_errbuf(err, errlen, errno, "cannot open %s: %s", path, strerror(errno));
	/* cgroup files take one value per write(); a short write is a refusal too. */
	n = write(fd, val, len);
	if (n < 0)
		return ic_errbuf(err, errlen, errno, "cannot write %s to %s: %s", val, path,
				 strerror(errno));
	if ((size_t)n != len)
		return ic_errbuf(err, errlen, EIO, "cannot write %s to %s: short write", val, path);
	return 0;
}

static int make_dir(const char *path, char *err, size_t errlen, bool must_be_new)
{
	if (mkdir(path, 0755) == 0)
		return 0;
	if (errno == EEXIST && !must_be_new)
		return 0;
	if (errno == EEXIST)
		return ic_errbuf(
		    err, errlen, EEXIST,
		    "cgroup %s already exists (another run with this id, or left over: "
		    "rmdir it)",
		    path);
	return ic_errbuf(err, errlen, errno, "cannot create %s: %s", path, strerror(errno));
}

/* cgroup2 hands a controller to children only when every ancestor lists it in
 * cgroup.subtree_control; enable what is missing, leaving the rest as the host set it. */
static int v2_enable(const char *dir, const bool *want, char *err, size_t errlen)
{
	char cur[512];
	ssize_t r = ic_cgroup_read_file(dir, "cgroup.subtree_control", cur, sizeof(cur));

	if (r < 0)
		return ic_errbuf(err, errlen, (int)r, "cannot read %s/cgroup.subtree_control: %s",
				 dir, strerror((int)-r));
	for (int c = 0; c < _IC_CGROUP_CTL_MAX; c++) {
		char val[32];

		if (!want[c] || ic_list_has(cur, ic_cgroup_ctl_name(c), ' '))
			continue;
		snprintf(val, sizeof(val), "+%s", ic_cgroup_ctl_name(c));
		r = write_file(dir, "cgroup.subtree_control", val, err, errlen);
		if (r < 0)
			return (int)r;
	}
	return 0;
}

static int join_path(char *dst, size_t len, const char *a, const char *b, const char *c, char *err,
		     size_t errlen)
{
	int n = snprintf(dst, len, "%s/%s/%s", a, b, c);

	if (n < 0 || (size_t)n >= len)
		return ic_errbuf(err, errlen, ENAMETOOLONG, "cgroup path too long under %s", a);
	return 0;
}

static void rmdir_quiet(const char *dir)
{
	if (dir)
		(void)rmdir(dir);
}

/* Both known and the same directory (both controllers on cgroup2, or co-mounted on v1). */
static bool same_dir(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* Creates the directories and sets the limits; does not move anything. The memory and pids
 * directories are the same when both controllers are on cgroup2 (or co-mounted on v1). */
static int create_dirs(const char *name, uint64_t memory_max, uint64_t pids_max,
		       struct ic_cgroup *cg, char *err, size_t errlen)
{
	_cleanup_free_ char *mem_dir = NULL, *pids_dir = NULL;
	bool want_v2[_IC_CGROUP_CTL_MAX] = {false};
	bool any_v2 = false;
	char val[32], path[IC_CGROUP_PATH_MAX];
	int r;

	/* Paths reach cg only once their directory is made here: the caller removes what cg
	 * names on failure, and must not remove somebody else's cgroup. */
	for (int c = 0; c < _IC_CGROUP_CTL_MAX; c++) {
		char **dst = c == IC_CGROUP_MEMORY ? &mem_dir : &pids_dir;
		bool v2;
		const char *mnt = ic_cgroup_mount(c, &v2);

		if (!mnt)
			continue;
		r = join_path(path, sizeof(path), mnt, CG_PARENT, name, err, errlen);
		if (r < 0)
			return r;
		*dst = strdup(path);
		if (!*dst)
			return ic_errbuf(err, errlen, ENOMEM, "out of memory");
		if (v2) {
			want_v2[c] = true;
			any_v2 = true;
		}
	}
	if (!mem_dir && memory_max)
		return ic_errbuf(err, errlen, ENOENT, "no memory cgroup controller is mounted");
	if (!pids_dir && pids_max)
		return ic_errbuf(err, errlen, ENOENT, "no pids cgroup controller is mounted");
	if (!mem_dir && !pids_dir)
		return ic_errbuf(err, errlen, ENOENT,
				 "neither memory nor pids cgroups are mounted");

	for (int c = 0; c < _IC_CGROUP_CTL_MAX; c++) {
		char **dir = c == IC_CGROUP_MEMORY ? &mem_dir : &pids_dir;
		char parent[IC_CGROUP_PATH_MAX];
		bool v2;
		const char *mnt = ic_cgroup_mount(c, &v2);

		if (!*dir)
			continue;
		if (c == IC_CGROUP_PIDS && same_dir(pids_dir, cg->memory)) {
			cg->pids = TAKE_PTR(pids_dir); /* the memory directory, made above */
			continue;
		}
		snprintf(parent, sizeof(parent), "%s/%s", mnt, CG_PARENT);
		if (v2 && any_v2) {
			r = v2_enable(mnt, want_v2, err, errlen);
			if (r < 0)
				return r;
		}
		r = make_dir(parent, err, errlen, false);
		if (r < 0)
			return r;
		if (v2 && any_v2) {
			r = v2_enable(parent, want_v2, err, errlen);
			if (r < 0)
				return r;
			any_v2 = false;
		}
		r = make_dir(*dir, err, errlen, true);
		if (r < 0)
			return r; /* not made here: not ours to remove */
		if (c == IC_CGROUP_MEMORY)
			cg->memory = TAKE_PTR(mem_dir);
		else
			cg->pids = TAKE_PTR(pids_dir);
	}

	if (memory_max) {
		snprintf(val, sizeof(val), "%" PRIu64, memory_max);
		r = write_file(cg->memory, cg->memory_v2 ? "memory.max" : "memory.limit_in_bytes",
			       val, err, errlen);
		if (r < 0)
			return r;
	}
	if (pids_max) {
		snprintf(val, sizeof(val), "%" PRIu64, pids_max);
		r = write_file(cg->pids, "pids.max", val, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The pid of a "run-PID" name, or 0 when name is anything else (an --id someone chose). */
static pid_t run_name_pid(const char *name)
{
	uint64_t v;

	if (strncmp(name, IC_CGROUP_RUN_PREFIX, strlen(IC_CGROUP_RUN_PREFIX)) != 0 ||
	    ic_parse_u64(name + strlen(IC_CGROUP_RUN_PREFIX), 1, INT32_MAX, &v) < 0)
		return 0;
	return (pid_t)v;
}

static int sweep_dir(const char *parent)
{
	DIR *d = opendir(parent);
	char path[IC_CGROUP_PATH_MAX];
	struct dirent *e;
	int removed = 0;

	if (!d)
		return 0;
	for (int seen = 0; seen < IC_CGROUP_SWEEP_MAX && (e = readdir(d)); seen++) {
		pid_t pid = run_name_pid(e->d_name);
		int n;

		/* EPERM: somebody's live process all the same. */
		if (pid <= 0 || e->d_type != DT_DIR || kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		n = snprintf(path, sizeof(path), "%s/%s", parent, e->d_name);
		/* The kernel refuses (EBUSY) a cgroup with tasks or children in it. */
		if (n > 0 && (size_t)n < sizeof(path) && rmdir(path) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}

int ic_cgroup_sweep_stale(void)
{
	const char *first = NULL;
	char parent[IC_CGROUP_PATH_MAX];
	int removed = 0;

	for (int c = 0; c < _IC_CGROUP_CTL_MAX; c++) {
		bool v2;
		const char *mnt = ic_cgroup_mount(c, &v2);

		/* Co-mounted controllers (and cgroup2) share one directory: sweep it once. */
		if (!mnt || same_dir(mnt, first))
			continue;
		if (!first)
			first = mnt;
		snprintf(parent, sizeof(parent), "%s/%s", mnt, CG_PARENT);
		removed += sweep_dir(parent);
	}
	return removed;
}

/* Single-threaded callers (intercept-run). On failure nothing is left behind: pid is put back
 * where it was and the directories made here are removed. */
int ic_cgroup_create(const char *name, uint64_t memory_max, uint64_t pids_max, pid_t pid,
		     struct ic_cgroup *ret, char *err, size_t errlen)
{
	struct ic_cgroup cg = {0}, orig = {0};
	char val[32];
	bool moved_mem = false;
	int r;

	/* As ic_cgroup_init last found it: before a first ic_cgroup_init, not cgroup2. */
	(void)ic_cgroup_mount(IC_CGROUP_MEMORY, &cg.memory_v2);

	if (err && errlen)
		err[0] = 0;
	if (!name[0] || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return ic_errbuf(err, errlen, EINVAL, "invalid cgroup name '%s'", name);
	if (!ic_cgroup_ready()) {
		r = ic_cgroup_init();
		if (r < 0)
			return ic_errbuf(err, errlen, r, "cannot discover cgroup mounts: %s",
					 strerror(-r));
	}
	(void)ic_cgroup_sweep_stale();
	r = ic_cgroup_of_pid(pid, &orig);
	if (r < 0)
		return ic_errbuf(err, errlen, r, "cannot read the cgroups of pid %d: %s", (int)pid,
				 strerror(-r));

	r = create_dirs(name, memory_max, pids_max, &cg, err, errlen);
	if (r < 0)
		goto fail;

	snprintf(val, sizeof(val), "%d", (int)pid);
	if (cg.memory) {
		r = write_file(cg.memory, "cgroup.procs", val, err, errlen);
		if (r < 0)
			goto fail;
		moved_mem = true;
	}
	if (cg.pids && !same_dir(cg.pids, cg.memory)) {
		r = write_file(cg.pids, "cgroup.procs", val, err, errlen);
		if (r < 0)
			goto fail;
	}
	ic_cgroup_done(&orig);
	*ret = cg;
	return 0;

fail:
	/* A pid in a cgroup keeps it busy; move it back before removing what we made. */
	if (moved_mem && orig.memory)
		(void)write_file(orig.memory, "cgroup.procs", val, NULL, 0);
	rmdir_quiet(cg.memory);
	if (!same_dir(cg.pids, cg.memory))
		rmdir_quiet(cg.pids);
	ic_cgroup_done(&orig);
	ic_cgroup_done(&cg);
	return r;
}

/* Tasks that just exited may keep a cgroup busy for a moment (EBUSY); a bounded wait of about a
 * second covers that without hanging a caller whose cgroup is really still in use. */
static int rmdir_wait(const char *dir)
{
	struct timespec ts = {0, CG_RMDIR_WAIT_NS};

	for (int i = 0;; i++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY || i + 1 >= CG_RMDIR_TRIES)
			return -errno;
		nanosleep(&ts, NULL);
	}
}

int ic_cgroup_destroy(const struct ic_cgroup *cg)
{
	int r = 0, q;

	if (!cg)
		return 0;
	if (cg->memory)
		r = rmdir_wait(cg->memory);
	if (cg->pids && !same_dir(cg->pids, cg->memory)) {
		q = rmdir_wait(cg->pids);
		if (r == 0)
			r = q;
	}
	return r;
}
