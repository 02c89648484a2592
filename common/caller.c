/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/caller.h"

static bool parse_ids(const char *line, const char *key, unsigned long *v4)
{
	size_t kl = strlen(key);

	if (strncmp(line, key, kl) != 0)
		return false;
	return sscanf(line + kl, "%lu %lu %lu %lu", &v4[0], &v4[1], &v4[2], &v4[3]) == 4;
}

int ic_caller_read(pid_t tid, struct ic_caller *c)
{
	char path[64], buf[16384], *line, *save = NULL;
	size_t len = 0;
	unsigned long ids[4];
	bool have_uid = false, have_gid = false, have_cap = false, have_umask = false;
	ssize_t n;
	int fd;

	memset(c, 0, sizeof(*c));
	c->tid = tid;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	/* One read: this runs for every mknod and setxattr, stdio would triple the cost. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	/* To the end: a line cut short (many groups) must not be parsed as a shorter value. */
	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0 &&
	       len + (size_t)n < sizeof(buf) - 1)
		len += (size_t)n;
	close(fd);
	if (n < 0)
		return -errno;
	if (n > 0)
		return -E2BIG;
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

int ic_caller_in_userns(pid_t tid, const struct ic_userns *ns, bool *same)
{
	dev_t dev;
	ino_t ino;
	int r = ic_userns_id(tid, &dev, &ino);

	if (r < 0)
		return r;
	*same = ns->known && dev == ns->dev && ino == ns->ino;
	return 0;
}

static int open_proc(pid_t tid, const char *what, int flags)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)tid, what);
	fd = open(path, flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int ic_caller_open_root(pid_t tid)
{
	return open_proc(tid, "root", O_PATH | O_DIRECTORY);
}

int ic_caller_open_cwd(pid_t tid)
{
	return open_proc(tid, "cwd", O_PATH | O_DIRECTORY);
}

int ic_caller_open_fd(pid_t tid, int fd, bool want_dir)
{
	char what[32];
	int r;

	if (fd < 0)
		return -EBADF;
	snprintf(what, sizeof(what), "fd/%d", fd);
	/* Following the magic link is the point: it leads to the caller's open file. */
	r = open_proc(tid, what, O_PATH | (want_dir ? O_DIRECTORY : 0));
	if (r == -ENOENT)
		return -EBADF; /* no such fd in the caller */
	return r;
}
