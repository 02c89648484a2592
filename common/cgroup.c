/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libcgroup.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <unistd.h>

#include "common/cgroup.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/parse.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define CG_MOUNTS_MAX 32
/* v1 reports "no limit" as PAGE_COUNTER_MAX pages rounded down to a page (9223372036854771712
 * with 4 KiB pages, other values with other page sizes); nothing real comes near 4 EiB. */
#define CG_V1_UNLIMITED (1ULL << 62)
#define CG_STAT_BUF	8192

static const char *const ctl_names[_IC_CGROUP_CTL_MAX] = {
    [IC_CGROUP_MEMORY] = "memory",
    [IC_CGROUP_PIDS] = "pids",
};

/* Where a controller's hierarchy is mounted; root is the mount's root inside the hierarchy (not
 * "/" when a subtree is bind-mounted, as in some containers). */
struct cg_hier {
	bool found;
	bool v2;
	char mnt[PATH_MAX];
	char root[PATH_MAX];
};

/* Written once by ic_cgroup_init before threads start, read-only afterwards: any thread may read
 * it without synchronisation because thread creation orders the writes before the reads. */
static struct cg_hier hiers[_IC_CGROUP_CTL_MAX];
static struct cg_hier cg2; /* the first cgroup2 mount, whatever controllers it has */
static bool cg_ready;

struct cg_mount {
	bool v2;
	char mnt[PATH_MAX];
	char root[PATH_MAX];
	char opts[256]; /* v1 super options: the controller list */
};

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = 0;
}

static bool copy_path(char *dst, const char *src)
{
	size_t n = strlen(src);

	if (n >= PATH_MAX)
		return false;
	memcpy(dst, src, n + 1);
	return true;
}

/* The cgroup and cgroup2 mounts of our mount namespace, first ones first. */
static int scan_mounts(struct cg_mount *m, size_t max, size_t *ret_n)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	_cleanup_free_ char *line = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return -errno;
	while (n < max && getline(&line, &cap, f) > 0) {
		char *fields[6], *sep, *save = NULL, *tok, *fstype, *opts;
		int i = 0;

		/* id parent maj:min root mountpoint options [optional...] - fstype source super */
		sep = strstr(line, " - ");
		if (!sep)
			continue;
		*sep = 0;
		tok = strtok_r(line, " ", &save);
		for (; tok && i < 6; tok = strtok_r(NULL, " ", &save))
			fields[i++] = tok;
		if (i < 5)
			continue;
		save = NULL;
		fstype = strtok_r(sep + 3, " ", &save);
		if (!fstype || (strcmp(fstype, "cgroup") && strcmp(fstype, "cgroup2")))
			continue;
		(void)strtok_r(NULL, " ", &save);
		opts = strtok_r(NULL, " \n", &save);
		unescape(fields[3]);
		unescape(fields[4]);
		m[n].v2 = strcmp(fstype, "cgroup2") == 0;
		if (!copy_path(m[n].root, fields[3]) || !copy_path(m[n].mnt, fields[4]))
			continue;
		snprintf(m[n].opts, sizeof(m[n].opts), "%s", opts ? opts : "");
		n++;
	}
	*ret_n = n;
	return 0;
}

/* Whether a cgroup2 hierarchy offers ctl: listed in its root's cgroup.controllers. */
static bool v2_offers(const char *mnt, const char *ctl)
{
	char path[PATH_MAX + 32], buf[512];
	_cleanup_close_ int fd = -EBADF;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/cgroup.controllers", mnt);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return ic_list_has(buf, ctl, ' ');
}

static const struct cg_mount *find_mount(const struct cg_mount *m, size_t n, const char *mnt)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(m[i].mnt, mnt) == 0)
			return &m[i];
	return NULL;
}

/* libcgroup knows the usual layouts (and cgroup2 controllers since 2.0); mountinfo is the
 * fallback where it is not initialised or does not report a controller. */
static void resolve_hier(enum ic_cgroup_ctl c, bool have_libcgroup, const struct cg_mount *m,
			 size_t n)
{
	struct cg_hier *h = &hiers[c];
	const struct cg_mount *hit = NULL;
	char *mnt = NULL;

	if (have_libcgroup && cgroup_get_subsys_mount_point(ctl_names[c], &mnt) == 0 && mnt) {
		struct statfs sfs;

		hit = find_mount(m, n, mnt);
		if (!hit && copy_path(h->mnt, mnt) && statfs(mnt, &sfs) == 0) {
			h->found = true;
			h->v2 = sfs.f_type == CGROUP2_SUPER_MAGIC;
			strcpy(h->root, "/");
		}
		free(mnt);
		if (h->found)
			return;
	}
	/* A v1 hierarchy that has the controller wins: it is then not available to cgroup2. */
	for (size_t i = 0; !hit && i < n; i++)
		if (!m[i].v2 && ic_list_has(m[i].opts, ctl_names[c], ','))
			hit = &m[i];
	for (size_t i = 0; !hit && i < n; i++)
		if (m[i].v2 && v2_offers(m[i].mnt, ctl_names[c]))
			hit = &m[i];
	if (!hit)
		return;
	h->found = true;
	h->v2 = hit->v2;
	strcpy(h->mnt, hit->mnt);
	strcpy(h->root, hit->root);
}

int ic_cgroup_init(void)
{
	_cleanup_free_ struct cg_mount *m = calloc(CG_MOUNTS_MAX, sizeof(*m));
	bool have_libcgroup;
	size_t n = 0;
	int r;

	if (!m)
		return -ENOMEM;
	r = scan_mounts(m, CG_MOUNTS_MAX, &n);
	if (r < 0)
		return log_error_errno(r, "cannot read /proc/self/mountinfo: %m");
	r = cgroup_init();
	have_libcgroup = r == 0;
	if (!have_libcgroup)
		log_debug("libcgroup: %s; reading /proc/self/mountinfo instead",
			  cgroup_strerror(r));
	memset(hiers, 0, sizeof(hiers));
	memset(&cg2, 0, sizeof(cg2));
	for (size_t i = 0; i < n && !cg2.found; i++)
		if (m[i].v2) {
			cg2.found = cg2.v2 = true;
			strcpy(cg2.mnt, m[i].mnt);
			strcpy(cg2.root, m[i].root);
		}
	for (int c = 0; c < _IC_CGROUP_CTL_MAX; c++) {
		resolve_hier(c, have_libcgroup, m, n);
		if (hiers[c].found)
			log_debug("cgroup: %s on %s (%s, root %s)", ctl_names[c], hiers[c].mnt,
				  hiers[c].v2 ? "v2" : "v1", hiers[c].root);
		else
			log_debug("cgroup: %s controller not mounted", ctl_names[c]);
	}
	cg_ready = true;
	return 0;
}

bool ic_cgroup_ready(void)
{
	return cg_ready;
}

const char *ic_cgroup_ctl_name(enum ic_cgroup_ctl ctl)
{
	return ctl_names[ctl];
}

const char *ic_cgroup_mount(enum ic_cgroup_ctl ctl, bool *v2)
{
	*v2 = hiers[ctl].v2;
	return hiers[ctl].found ? hiers[ctl].mnt : NULL;
}

static bool has_dotdot(const char *path)
{
	for (const char *p = strstr(path, "/.."); p; p = strstr(p + 1, "/.."))
		if (p[3] == '/' || p[3] == 0)
			return true;
	return false;
}

/* Directory of a cgroup given its path as /proc/PID/cgroup shows it. Paths outside the mount
 * (another cgroup namespace shows "/.."; a bind-mounted subtree hides its siblings) are not
 * ours to read. */
static int hier_dir(const struct cg_hier *h, const char *path, char *dir, size_t dirlen)
{
	size_t rl = strlen(h->root);
	int n;

	if (path[0] != '/' || has_dotdot(path))
		return -ENOENT;
	if (strcmp(h->root, "/") != 0) {
		if (strncmp(path, h->root, rl) != 0 || (path[rl] != '/' && path[rl] != 0))
			return -ENOENT;
		path += rl;
	}
	while (*path == '/')
		path++;
	n = snprintf(dir, dirlen, "%s%s%s", h->mnt, *path ? "/" : "", path);
	if (n < 0 || (size_t)n >= dirlen)
		return -ENAMETOOLONG;
	return 0;
}

/* Any thread: uses only the mount table fixed by ic_cgroup_init and plain file reads. */
int ic_cgroup_of_pid(pid_t pid, struct ic_cgroup *cg)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	char path[64], dir[IC_CGROUP_PATH_MAX];
	size_t cap = 0;
	ssize_t len;

	*cg = (struct ic_cgroup){.memory_v2 = hiers[IC_CGROUP_MEMORY].v2};
	if (!cg_ready)
		return -ENXIO;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while ((len = getline(&line, &cap, f)) > 0) {
		char *ctls, *cpath;
		bool unified;

		if (line[len - 1] == '\n')
			line[len - 1] = 0;
		/* hierarchy-id:controller-list:path; the path itself may contain ':' */
		ctls = strchr(line, ':');
		if (!ctls)
			continue;
		*ctls++ = 0;
		cpath = strchr(ctls, ':');
		if (!cpath)
			continue;
		*cpath++ = 0;
		unified = strcmp(line, "0") == 0 && ctls[0] == 0;
		for (int c = 0; c < _IC_CGROUP_CTL_MAX; c++) {
			const struct cg_hier *h = &hiers[c];
			char **dst = c == IC_CGROUP_MEMORY ? &cg->memory : &cg->pids;

			if (!h->found || *dst)
				continue;
			if (h->v2 ? !unified : !ic_list_has(ctls, ctl_names[c], ','))
				continue;
			if (hier_dir(h, cpath, dir, sizeof(dir)) < 0)
				continue;
			*dst = strdup(dir);
			if (!*dst) {
				ic_cgroup_done(cg);
				return -ENOMEM;
			}
		}
	}
	if (ferror(f)) {
		ic_cgroup_done(cg);
		return -EIO;
	}
	return 0;
}

void ic_cgroup_done(struct ic_cgroup *cg)
{
	free(cg->memory);
	free(cg->pids);
	cg->memory = cg->pids = NULL;
}

int ic_cgroup2_dir(pid_t pid, char *buf, size_t len)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	char path[64];
	size_t cap = 0;
	ssize_t n;

	if (!cg_ready || !cg2.found)
		return -ENOENT;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		if (line[n - 1] == '\n')
			line[n - 1] = 0;
		if (strcmp(line + 3, "/") == 0)
			return -ENOENT;
		return hier_dir(&cg2, line + 3, buf, len);
	}
	return -ENOENT;
}

void ic_cgroup_files_init(struct ic_cgroup_files *f)
{
	for (int i = 0; i < _IC_CGROUP_F_MAX; i++)
		f->fd[i] = -1;
}

void ic_cgroup_files_close(struct ic_cgroup_files *f)
{
	for (int i = 0; i < _IC_CGROUP_F_MAX; i++)
		if (f->fd[i] >= 0)
			close(f->fd[i]);
	ic_cgroup_files_init(f);
}

/* A cgroup file is kept open only when it got an fd in the bottom eighth of the table: every
 * container costs a listener fd, and the listeners must find room however many cgroups we read
 * (doc/design.md §12). fds are handed out lowest first, so this also bounds how many we keep. */
static int keep_below(void)
{
	static int below; /* atomic: 0 until computed, after the daemon raised its limit */
	int v = __atomic_load_n(&below, __ATOMIC_RELAXED);
	struct rlimit rl;

	if (v)
		return v;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1;
	v = (int)IC_MAX(IC_MIN(rl.rlim_cur / 8, (rlim_t)INT_MAX), (rlim_t)1);
	__atomic_store_n(&below, v, __ATOMIC_RELAXED);
	return v;
}

/* fd's whole content from offset 0, as ic_cgroup_read_file says. */
static ssize_t read_whole(int fd, char *buf, size_t size)
{
	size_t len = 0;

	while (len < size - 1) {
		ssize_t r = pread(fd, buf + len, size - 1 - len, (off_t)len);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		/* cgroup files are seq_files, which fill what is asked for while they have data:
		 * a short read is the whole file, and asking again for the 0 costs a syscall per
		 * file on sysinfo's path. */
		if (len < size - 1)
			break;
	}
	buf[len] = 0;
	while (len > 0 && buf[len - 1] == '\n')
		buf[--len] = 0;
	return (ssize_t)len;
}

/* dir/name through f's file `which` when it is open, else opened (and kept in f when the table
 * has room). */
static ssize_t read_kept(const char *dir, const char *name, struct ic_cgroup_files *f,
			 enum ic_cgroup_file which, char *buf, size_t size)
{
	char path[IC_CGROUP_PATH_MAX + 64];
	_cleanup_close_ int fd = -EBADF;
	ssize_t r;
	int n;

	if (f && f->fd[which] >= 0) {
		r = read_whole(f->fd[which], buf, size);
		if (r >= 0)
			return r;
		/* A cgroup removed answers ENODEV on its open files: look at the path again, which
		 * says what it holds now. */
		close(f->fd[which]);
		f->fd[which] = -1;
	}
	n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = read_whole(fd, buf, size);
	if (r >= 0 && f && fd < keep_below())
		f->fd[which] = TAKE_FD(fd);
	return r;
}

ssize_t ic_cgroup_read_file(const char *dir, const char *name, char *buf, size_t size)
{
	return read_kept(dir, name, NULL, 0, buf, size);
}

/* A single number, or "max" (v2) meaning no limit. */
static int read_u64(const char *dir, const char *name, struct ic_cgroup_files *f,
		    enum ic_cgroup_file which, uint64_t *v)
{
	char buf[64];
	ssize_t r = read_kept(dir, name, f, which, buf, sizeof(buf));

	if (r < 0)
		return (int)r;
	if (strcmp(buf, "max") == 0) {
		*v = UINT64_MAX;
		return 0;
	}
	return ic_parse_u64(buf, 0, UINT64_MAX, v);
}

static uint64_t v1_limit(uint64_t v)
{
	return v >= CG_V1_UNLIMITED ? UINT64_MAX : v;
}

/* Picks the "key value" lines of memory.stat we want; a key the kernel lacks stays 0. The keys
 * we read come early in the file, so a stat file longer than the buffer does not matter. */
static int read_stat(const char *dir, struct ic_cgroup_files *f, const char *const *keys,
		     uint64_t *vals, size_t n)
{
	char buf[CG_STAT_BUF];
	ssize_t r = read_kept(dir, "memory.stat", f, IC_CGROUP_F_STAT, buf, sizeof(buf));
	char *save = NULL;

	if (r < 0)
		return (int)r;
	for (size_t i = 0; i < n; i++)
		vals[i] = 0;
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(l, ' ');

		if (!sp)
			continue;
		*sp = 0;
		for (size_t i = 0; i < n; i++)
			if (strcmp(l, keys[i]) == 0 &&
			    ic_parse_u64(sp + 1, 0, UINT64_MAX, &vals[i]) < 0)
				vals[i] = 0;
	}
	return 0;
}

/* A v1 limit is enforced on the whole hierarchy above a cgroup, and memory.stat already gives
 * the smallest one on the way up: a container without a limit of its own inside a limited pod
 * or slice gets the limit the kernel will hold it to. The keys come before the total_* lines. */
static int read_mem_v1(const char *dir, struct ic_cgroup_files *f, struct ic_cgroup_mem *m)
{
	static const char *const keys[] = {"hierarchical_memory_limit", "hierarchical_memsw_limit",
					   "total_shmem"};
	uint64_t st[3], sw_usage;
	int r;

	r = read_u64(dir, "memory.usage_in_bytes", f, IC_CGROUP_F_USAGE, &m->usage);
	if (r < 0)
		return r;
	r = read_stat(dir, f, keys, st, 3);
	if (r < 0)
		return r;
	/* A kernel without the hierarchical line: the cgroup's own limit. */
	if (st[0] == 0) {
		r = read_u64(dir, "memory.limit_in_bytes", f, IC_CGROUP_F_LIMIT, &st[0]);
		if (r < 0)
			return r;
	}
	m->limit = v1_limit(st[0]);
	m->shmem = st[2];

	/* memsw counts memory plus swap; without swap accounting there is no memsw at all. */
	m->swap_limit = m->swap_usage = UINT64_MAX;
	if (st[1] == 0 ||
	    read_u64(dir, "memory.memsw.usage_in_bytes", f, IC_CGROUP_F_SWAP, &sw_usage) < 0)
		return 0;
	st[1] = v1_limit(st[1]);
	/* memsw.limit >= limit is enforced by the kernel; clamp anyway rather than wrap. */
	if (st[1] != UINT64_MAX && m->limit != UINT64_MAX)
		m->swap_limit = st[1] > m->limit ? st[1] - m->limit : 0;
	m->swap_usage = sw_usage > m->usage ? sw_usage - m->usage : 0;
	return 0;
}

/* v2 keeps no hierarchical figure: the limit that binds is the smallest name on the way up to
 * the hierarchy's root (which has none). *v is UINT64_MAX when nothing limits. The cgroup's own
 * file goes through f's `which`; those above are opened each time. */
static int v2_limit_up(const char *dir, const char *name, struct ic_cgroup_files *f,
		       enum ic_cgroup_file which, uint64_t *v)
{
	const char *mnt = ic_cgroup_mount(IC_CGROUP_MEMORY, &(bool){false});
	size_t ml = mnt ? strlen(mnt) : 0;
	char cur[IC_CGROUP_PATH_MAX];
	int r;

	*v = UINT64_MAX;
	if (strlen(dir) >= sizeof(cur))
		return -ENAMETOOLONG;
	strcpy(cur, dir);
	for (;;) {
		uint64_t here;
		char *slash;

		r = read_u64(cur, name, f, which, &here);
		f = NULL;
		if (r == -ENOENT)
			return 0; /* the root: nothing above limits */
		if (r < 0)
			return r;
		if (here < *v)
			*v = here;
		slash = strrchr(cur, '/');
		if (!slash || (size_t)(slash - cur) < ml || slash == cur)
			return 0;
		*slash = 0;
	}
}

static int read_mem_v2(const char *dir, struct ic_cgroup_files *f, struct ic_cgroup_mem *m)
{
	static const char *const keys[] = {"shmem"};
	int r;

	/* The root cgroup has neither file: the caller then uses the host's figures. */
	r = read_u64(dir, "memory.current", f, IC_CGROUP_F_USAGE, &m->usage);
	if (r < 0)
		return r;
	r = v2_limit_up(dir, "memory.max", f, IC_CGROUP_F_LIMIT, &m->limit);
	if (r < 0)
		return r;
	r = read_stat(dir, f, keys, &m->shmem, 1);
	if (r < 0)
		return r;
	if (read_u64(dir, "memory.swap.current", f, IC_CGROUP_F_SWAP, &m->swap_usage) < 0 ||
	    v2_limit_up(dir, "memory.swap.max", f, IC_CGROUP_F_SWAP_MAX, &m->swap_limit) < 0)
		m->swap_limit = m->swap_usage = UINT64_MAX;
	return 0;
}

/* Any thread. -ENOENT: no memory accounting there (unknown cgroup, v2 root). */
int ic_cgroup_read_mem(const struct ic_cgroup *cg, struct ic_cgroup_files *f,
		       struct ic_cgroup_mem *m)
{
	if (!cg->memory)
		return -ENOENT;
	return cg->memory_v2 ? read_mem_v2(cg->memory, f, m) : read_mem_v1(cg->memory, f, m);
}

/* Any thread. */
int ic_cgroup_read_pids(const struct ic_cgroup *cg, struct ic_cgroup_files *f, uint64_t *current)
{
	if (!cg->pids)
		return -ENOENT;
	return read_u64(cg->pids, "pids.current", f, IC_CGROUP_F_PIDS, current);
}
