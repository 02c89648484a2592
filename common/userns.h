/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_COMMON_USERNS_H
#define IC_COMMON_USERNS_H

#include <stdbool.h>
#include <sys/types.h>

#define IC_USERNS_MAP_MAX 16

/* A container's user namespace, read once from its init: which one, and its id maps as host
 * ranges [first, first + count). Immutable once read (maps are written once per namespace). */
struct ic_userns {
	bool known;
	bool initial; /* the host's own: the kernel itself judges privileged calls */
	dev_t dev;
	ino_t ino;
	int n_uid, n_gid;
	/* [outside first, count, inside first] */
	unsigned long uid[IC_USERNS_MAP_MAX][3], gid[IC_USERNS_MAP_MAX][3];
	uid_t root_uid; /* the host uid of the namespace's uid 0, (uid_t)-1 when unmapped */
};

/* Any thread: pid's user namespace and its id maps. On failure ns is all unknown (zeroed). */
int ic_userns_of(pid_t pid, struct ic_userns *ns);
/* Which user namespace pid is in: the device and inode of its /proc/<pid>/ns/user (one stat). */
int ic_userns_id(pid_t pid, dev_t *dev, ino_t *ino);
/* Whether host uid and gid both have a mapping in ns (the kernel's test for honouring that
 * namespace's DAC override on an inode). */
bool ic_userns_maps(const struct ic_userns *ns, uid_t uid, gid_t gid);
/* A host id as the namespace sees it, (unsigned)-1 when unmapped. */
unsigned ic_userns_uid_inside(const struct ic_userns *ns, uid_t uid);
unsigned ic_userns_gid_inside(const struct ic_userns *ns, gid_t gid);

#endif
