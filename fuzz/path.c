/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/path.h"
#include "fuzz/fake-mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A path argument (mknod, setxattr) read from the target's memory and split as the handlers do:
 * the common header (fake-mem.h), address (2), buffer size (2), directory size (2); the rest
 * is the target's memory. Buffers are allocated to size so that ASan sees any overrun. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fake_input in = fake_begin(data, size);
	uint16_t addr = (uint16_t)fake_take(&in, 2);
	size_t max = fake_take(&in, 2) % (PATH_MAX + 1) + 1;
	size_t dirlen = fake_take(&in, 2) % (PATH_MAX + 1) + 1;
	char *buf, *dir;
	const char *last = NULL;
	pid_t pid;
	int r;

	pid = fake_mem_map(&in);
	buf = malloc(max);
	dir = malloc(dirlen);
	if (!buf || !dir)
		abort();
	r = ic_read_string(pid, fake_addr(addr), buf, max);
	if (r == 0 && !memchr(buf, 0, max))
		__builtin_trap();
	if (r != 0 && r != -EFAULT && r != -ENAMETOOLONG && r != -ESRCH)
		__builtin_trap();
	if (r == 0) {
		size_t n = strlen(buf), d;

		ic_path_split(buf, dir, dirlen, &last);
		d = strlen(dir);
		if (last < buf || last > buf + n || d >= dirlen)
			__builtin_trap();
		/* The directory part is ".", "/" or the path's own beginning. */
		if (strcmp(dir, ".") != 0 && strcmp(dir, "/") != 0 && strncmp(dir, buf, d) != 0)
			__builtin_trap();
	}
	free(buf);
	free(dir);
	return 0;
}
