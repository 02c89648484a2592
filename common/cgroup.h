/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_COMMON_CGROUP_H
#define IC_COMMON_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define IC_CGROUP_PATH_MAX 4096

/* Where one process's memory and pids accounting lives, v1 or v2. The paths are allocated to
 * fit (every registered container holds one: thousands of them), freed by ic_cgroup_done. */
struct ic_cgroup {
	bool memory_v2; /* memory dir is a cgroup2 directory */
	char *memory;	/* absolute directory, NULL when unknown */
	char *pids;	/* absolute directory, NULL when unknown */
};

/* Memory figures of a cgroup in bytes; limit/swap_limit UINT64_MAX when unlimited, swap fields
 * UINT64_MAX when swap is not accounted. */
struct ic_cgroup_mem {
	uint64_t limit, usage, cache, shmem;
	uint64_t swap_limit, swap_usage;
};

/* Once per process, before threads: libcgroup's view of the mounts. */
int ic_cgroup_init(void);
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
 * caller then uses the host's figures. */
int ic_cgroup_read_mem(const struct ic_cgroup *cg, struct ic_cgroup_mem *m);
int ic_cgroup_read_pids(const struct ic_cgroup *cg, uint64_t *current);

/* intercept-run: create NAME under "interceptd/" in the memory and pids hierarchies (v1 or v2),
 * set the limits (0: none), move pid in. Error messages name the file that refused. */
int ic_cgroup_create(const char *name, uint64_t memory_max, uint64_t pids_max, pid_t pid,
		     struct ic_cgroup *ret, char *err, size_t errlen);
/* Remove what ic_cgroup_create made; the cgroup must be empty. The caller still owns cg. */
int ic_cgroup_destroy(const struct ic_cgroup *cg);

#endif
