/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "fuzz/fake-mem.h"

static struct {
	uint8_t *bytes;
	size_t len;
	uint64_t start;
	unsigned misalign;
	bool gone;
} fake;

struct fake_input fake_begin(const uint8_t *data, size_t size)
{
	struct fake_input in = {data, size};

	fake.gone = fake_take(&in, 1) & 1;
	fake.misalign = (unsigned)fake_take(&in, 2) % 4096;
	return in;
}

uint64_t fake_take(struct fake_input *in, size_t bytes)
{
	uint64_t v = 0;

	for (size_t i = 0; i < bytes && in->n; i++, in->p++, in->n--)
		v |= (uint64_t)in->p[0] << (8 * i);
	return v;
}

pid_t fake_mem_map(const struct fake_input *in)
{
	free(fake.bytes);
	/* An exact allocation: ASan sees any read past what the target mapped. */
	fake.bytes = malloc(in->n ? in->n : 1);
	if (!fake.bytes)
		abort();
	memcpy(fake.bytes, in->p, in->n);
	fake.len = in->n;
	fake.start = FAKE_BASE + fake.misalign;
	return fake.gone ? FAKE_PID_GONE : FAKE_PID;
}

uint64_t fake_addr(uint16_t v)
{
	return v ? fake.start - 256 + v : 0;
}

/* As the kernel does: bytes up to the first one that is not mapped, -EFAULT when that is the
 * first. */
static ssize_t xfer(pid_t pid, const struct iovec *local, unsigned long nl,
		    const struct iovec *remote, unsigned long nr, int write)
{
	uint64_t a = (uint64_t)(uintptr_t)remote->iov_base;
	size_t done = 0;

	if (pid != FAKE_PID) {
		errno = ESRCH;
		return -1;
	}
	if (nl != 1 || nr != 1 || local->iov_len != remote->iov_len) {
		errno = EINVAL; /* common/mem.c moves one range at a time */
		return -1;
	}
	if (a >= fake.start && a - fake.start < fake.len) {
		uint8_t *mapped = fake.bytes + (a - fake.start);

		done = fake.len - (size_t)(a - fake.start);
		if (done > remote->iov_len)
			done = remote->iov_len;
		if (write)
			memcpy(mapped, local->iov_base, done);
		else
			memcpy(local->iov_base, mapped, done);
	}
	if (done == 0 && remote->iov_len) {
		errno = EFAULT;
		return -1;
	}
	return (ssize_t)done;
}

ssize_t process_vm_readv(pid_t pid, const struct iovec *local, unsigned long nl,
			 const struct iovec *remote, unsigned long nr, unsigned long flags)
{
	return xfer(pid, local, nl, remote, nr, 0);
}

ssize_t process_vm_writev(pid_t pid, const struct iovec *local, unsigned long nl,
			  const struct iovec *remote, unsigned long nr, unsigned long flags)
{
	return xfer(pid, local, nl, remote, nr, 1);
}
