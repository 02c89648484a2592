/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "common/path.h"

void ic_path_split(const char *path, char *dir, size_t dirlen, const char **last)
{
	size_t n = strlen(path), end = n, start;

	/* The last component keeps its trailing slashes. */
	while (end > 0 && path[end - 1] == '/')
		end--;
	start = end;
	while (start > 0 && path[start - 1] != '/')
		start--;
	if (end == 0) {
		/* "/" or "///": no component at all; the kernel judges the whole string. */
		snprintf(dir, dirlen, "/");
		*last = path;
		return;
	}
	*last = path + start;
	if (start == 0) {
		snprintf(dir, dirlen, ".");
		return;
	}
	/* The directory part, without its trailing slashes (but "/" stays "/"). */
	while (start > 1 && path[start - 1] == '/')
		start--;
	if (start >= dirlen)
		start = dirlen - 1;
	memcpy(dir, path, start);
	dir[start] = 0;
}
