/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_COMMON_CGROUP_CREATE_H
#define IC_COMMON_CGROUP_CREATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ic_cgroup;

/* intercept-run: create NAME under "interceptd/" in the memory and pids hierarchies (v1 or v2),
 * set the limits (0: none), move pid in. Error messages name the file that refused. */
int ic_cgroup_create(const char *name, uint64_t memory_max, uint64_t pids_max, pid_t pid,
		     struct ic_cgroup *ret, char *err, size_t errlen);
/* Remove what ic_cgroup_create made; the cgroup must be empty. The caller still owns cg. */
int ic_cgroup_destroy(const struct ic_cgroup *cg);

#endif
