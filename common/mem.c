/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/mem.h"

static int mem_xfer(pid_t pid, uint64_t addr, void *buf, size_t len, bool write)
{
	struct iovec local = {.iov_base = buf, .iov_len = len};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};
	ssize_t n;

	if (len == 0)
		return 0;
	if (addr + len < addr)
		return -EFAULT;
	n = write ? process_vm_writev(pid, &local, 1, &remote, 1, 0)
		  : process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (n < 0)
		return -errno;
	/* A partial transfer means the range crosses into an unmapped page. */
	return (size_t)n == len ? 0 : -EFAULT;
}

int ic_mem_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	return mem_xfer(pid, addr, buf, len, false);
}

int ic_mem_write(pid_t pid, uint64_t addr, const void *buf, size_t len)
{
	return mem_xfer(pid, addr, (void *)buf, len, true);
}

int ic_read_string(pid_t tid, uint64_t addr, char *buf, size_t max)
{
	size_t got = 0;
	long page = sysconf(_SC_PAGESIZE);

	while (got < max) {
		/* Up to the end of the page, so an unmapped next page is never touched early. */
		size_t chunk = (size_t)page - (size_t)((addr + got) % (uint64_t)page);
		char *nul;
		int r;

		if (chunk > max - got)
			chunk = max - got;
		r = ic_mem_read(tid, addr + got, buf + got, chunk);
		if (r < 0)
			return r;
		nul = memchr(buf + got, 0, chunk);
		if (nul)
			return 0;
		got += chunk;
	}
	return -ENAMETOOLONG;
}
