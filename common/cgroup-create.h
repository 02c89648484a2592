/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_COMMON_CGROUP_CREATE_H
#define IC_COMMON_CGROUP_CREATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ic_cgroup;

/* intercept-run's cgroup name when no --id is given: IC_CGROUP_RUN_PREFIX and its pid. */
#define IC_CGROUP_RUN_PREFIX "run-"
/* Entries of "interceptd/" one sweep looks at, per hierarchy. */
#define IC_CGROUP_SWEEP_MAX 1024

/* intercept-run: create NAME under "interceptd/" in the memory and pids hierarchies (v1 or v2),
 * set the limits (0: none), move pid in. Error messages name the file that refused. */
int ic_cgroup_create(const char *name, uint64_t memory_max, uint64_t pids_max, pid_t pid,
		     struct ic_cgroup *ret, char *err, size_t errlen);
/* Single-threaded callers (intercept-run), after ic_cgroup_init: remove the empty
 * "interceptd/run-PID" cgroups whose PID is gone (an intercept-run killed before it could clean
 * up). A cgroup that still holds a task or a child is busy and stays, as does one whose PID
 * lives (it may be between its mkdir and moving its container in). Looks at no more than
 * IC_CGROUP_SWEEP_MAX entries per hierarchy; returns how many cgroups it removed. */
int ic_cgroup_sweep_stale(void);
/* Remove what ic_cgroup_create made; the cgroup must be empty. The caller still owns cg. */
int ic_cgroup_destroy(const struct ic_cgroup *cg);

#endif
