/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_COMMON_CGROUP_H
#define IC_COMMON_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define IC_CGROUP_PATH_MAX 4096

enum ic_cgroup_ctl { IC_CGROUP_MEMORY = 0, IC_CGROUP_PIDS = 1, _IC_CGROUP_CTL_MAX };

/* Where one process's memory and pids accounting lives, v1 or v2. The paths are allocated to
 * fit (every registered container holds one: thousands of them), freed by ic_cgroup_done. */
struct ic_cgroup {
	bool memory_v2; /* memory dir is a cgroup2 directory */
	char *memory;	/* absolute directory, NULL when unknown */
	char *pids;	/* absolute directory, NULL when unknown */
};

/* Memory figures of a cgroup in bytes; limit and swap_limit are the smallest ones up the tree
 * (what the kernel enforces), UINT64_MAX when unlimited; swap fields UINT64_MAX when swap is not
 * accounted. */
struct ic_cgroup_mem {
	uint64_t limit, usage, shmem;
	uint64_t swap_limit, swap_usage;
};

/* The files sysinfo reads of one cgroup, kept open between readings to be read again with
 * pread: each one read then costs one syscall instead of open, read and close. Which are kept
 * is bounded by the fd table (doc/design.md §12). The caller serialises the use of one set. */
enum ic_cgroup_file {
	IC_CGROUP_F_USAGE = 0,	  /* memory.usage_in_bytes (v1), memory.current (v2) */
	IC_CGROUP_F_STAT = 1,	  /* memory.stat */
	IC_CGROUP_F_LIMIT = 2,	  /* memory.limit_in_bytes (v1), memory.max (v2) */
	IC_CGROUP_F_SWAP = 3,	  /* memory.memsw.usage_in_bytes (v1), memory.swap.current (v2) */
	IC_CGROUP_F_SWAP_MAX = 4, /* memory.swap.max (v2) */
	IC_CGROUP_F_PIDS = 5,	  /* pids.current */
	_IC_CGROUP_F_MAX
};

struct ic_cgroup_files {
	int fd[_IC_CGROUP_F_MAX]; /* -1: not open */
};

void ic_cgroup_files_init(struct ic_cgroup_files *f);
/* Closes what f holds; f is then as after init. */
void ic_cgroup_files_close(struct ic_cgroup_files *f);

/* Once per process, before threads: libcgroup's view of the mounts. */
int ic_cgroup_init(void);
/* Any thread, from what ic_cgroup_init found: whether it has run; where ctl's hierarchy is
 * mounted (NULL when it is not, or before ic_cgroup_init) and in *v2 whether that is cgroup2. */
bool ic_cgroup_ready(void);
const char *ic_cgroup_mount(enum ic_cgroup_ctl ctl, bool *v2);
/* The controller's name as the kernel spells it: "memory", "pids". */
const char *ic_cgroup_ctl_name(enum ic_cgroup_ctl ctl);
/* Resolve pid's memory and pids cgroups (any thread) into cg, whose previous paths the caller
 * has freed. A controller that is not mounted, or a cgroup outside our view, is left NULL.
 * -ESRCH when pid is gone; on any error cg is all unknown. */
int ic_cgroup_of_pid(pid_t pid, struct ic_cgroup *cg);
/* Frees the paths; cg is then all unknown. Accepts an all-unknown (zeroed) cg. */
void ic_cgroup_done(struct ic_cgroup *cg);
/* Any thread: the cgroup2 directory (absolute host path) of pid, from its /proc/<pid>/cgroup;
 * -ENOENT when cgroup2 is not mounted or pid sits in the hierarchy's root (nobody's to narrow). */
int ic_cgroup2_dir(pid_t pid, char *buf, size_t len);
/* Any thread. -ENOENT when there is nothing to read (unknown cgroup, the v2 root cgroup): the
 * caller then uses the host's figures. f: the files of cg kept open (read through, and filled
 * while the fd table has room), NULL to open and close each one. */
int ic_cgroup_read_mem(const struct ic_cgroup *cg, struct ic_cgroup_files *f,
		       struct ic_cgroup_mem *m);
int ic_cgroup_read_pids(const struct ic_cgroup *cg, struct ic_cgroup_files *f, uint64_t *current);
/* Any thread: dir/name, a small cgroup file, read whole into buf (NUL-terminated, at most
 * size - 1 bytes). Its length without the trailing newline, or -errno. */
ssize_t ic_cgroup_read_file(const char *dir, const char *name, char *buf, size_t size);

#endif
