/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/userns.h"

/* Extents beyond IC_USERNS_MAP_MAX are left out: the ids they map get no DAC override. */
static void read_map(pid_t tid, const char *map, int *n, unsigned long (*ranges)[3], uid_t *root)
{
	char path[64];
	unsigned long inside, outside, count;
	FILE *f;

	*n = 0;
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)tid, map);
	f = fopen(path, "re");
	if (!f)
		return;
	while (*n < IC_USERNS_MAP_MAX && fscanf(f, "%lu %lu %lu", &inside, &outside, &count) == 3) {
		if (root && inside == 0 && count > 0)
			*root = (uid_t)outside;
		ranges[*n][0] = outside;
		ranges[*n][1] = count;
		ranges[*n][2] = inside;
		(*n)++;
	}
	fclose(f);
}

int ic_userns_id(pid_t pid, dev_t *dev, ino_t *ino)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	if (stat(path, &st) < 0)
		return -errno;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return 0;
}

int ic_userns_of(pid_t pid, struct ic_userns *ns)
{
	dev_t my_dev;
	ino_t my_ino;
	int r;

	memset(ns, 0, sizeof(*ns));
	/* The daemon runs in the initial user namespace. */
	if ((r = ic_userns_id(getpid(), &my_dev, &my_ino)) < 0 ||
	    (r = ic_userns_id(pid, &ns->dev, &ns->ino)) < 0)
		return r;
	ns->initial = my_dev == ns->dev && my_ino == ns->ino;
	ns->root_uid = (uid_t)-1;
	read_map(pid, "uid_map", &ns->n_uid, ns->uid, &ns->root_uid);
	read_map(pid, "gid_map", &ns->n_gid, ns->gid, NULL);
	ns->known = true;
	return 0;
}

static bool in_ranges(int n, const unsigned long (*r)[3], unsigned long id)
{
	for (int i = 0; i < n; i++)
		if (id >= r[i][0] && id - r[i][0] < r[i][1])
			return true;
	return false;
}

static unsigned inside(int n, const unsigned long (*r)[3], unsigned long id)
{
	for (int i = 0; i < n; i++)
		if (id >= r[i][0] && id - r[i][0] < r[i][1])
			return (unsigned)(r[i][2] + (id - r[i][0]));
	return (unsigned)-1;
}

unsigned ic_userns_uid_inside(const struct ic_userns *ns, uid_t uid)
{
	return inside(ns->n_uid, ns->uid, uid);
}

unsigned ic_userns_gid_inside(const struct ic_userns *ns, gid_t gid)
{
	return inside(ns->n_gid, ns->gid, gid);
}

bool ic_userns_maps(const struct ic_userns *ns, uid_t uid, gid_t gid)
{
	return in_ranges(ns->n_uid, ns->uid, uid) && in_ranges(ns->n_gid, ns->gid, gid);
}
