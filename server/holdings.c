/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>
#include <unistd.h>

#include "server/holdings.h"

#define MAGIC 0x6963686c64730001ULL /* "ichlds", version 1 */

struct head {
	uint64_t magic;
	uint64_t seq;
	uint64_t end; /* written after the record it covers */
	uint64_t pad;
};

_Static_assert(sizeof(struct head) == IC_HOLDINGS_START, "the first record follows the head");

static int pwrite_all(int fd, const void *p, size_t len, uint64_t off)
{
	ssize_t n = pwrite(fd, p, len, (off_t)off);

	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
}

static int pread_all(int fd, void *p, size_t len, uint64_t off)
{
	ssize_t n = pread(fd, p, len, (off_t)off);

	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -EPROTO;
}

uint64_t ic_holdings_size(uint32_t len)
{
	return (sizeof(struct ic_holding) + len + 7) & ~(uint64_t)7;
}

int ic_holdings_create(uint64_t seq)
{
	struct head h = {.magic = MAGIC, .seq = seq, .end = sizeof(struct head)};
	/* Close-on-exec: a FUSE helper the server runs as a container must never get it. */
	int fd = memfd_create("interceptd-holdings", MFD_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	r = pwrite_all(fd, &h, sizeof(h), 0);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

int ic_holdings_open(int fd, uint64_t *seq, uint64_t *end)
{
	struct head h;
	int r = pread_all(fd, &h, sizeof(h), 0);

	if (r < 0)
		return r;
	if (h.magic != MAGIC || h.end < sizeof(h))
		return -EPROTO;
	*seq = h.seq;
	*end = h.end;
	return 0;
}

int ic_holdings_add(int fd, uint64_t *end, uint64_t key, int listener, const void *msg,
		    uint32_t len, uint64_t *off)
{
	struct ic_holding h = {.key = key, .len = len, .live = 1, .fd = listener};
	uint64_t next = *end + ic_holdings_size(len);
	int r;

	if (!key || len > IC_HOLDINGS_MSG_MAX)
		return -EINVAL;
	r = pwrite_all(fd, msg, len, *end + sizeof(h));
	if (r == 0)
		r = pwrite_all(fd, &h, sizeof(h), *end);
	/* The end moves past the record only once the record is whole. */
	if (r == 0)
		r = pwrite_all(fd, &next, sizeof(next), offsetof(struct head, end));
	if (r < 0)
		return r;
	*off = *end;
	*end = next;
	return 0;
}

int ic_holdings_set(int fd, uint64_t off, bool live, int listener)
{
	struct {
		uint32_t live;
		int32_t fd;
	} v = {live, listener};

	return pwrite_all(fd, &v, sizeof(v), off + offsetof(struct ic_holding, live));
}

int ic_holdings_msg(int fd, uint64_t off, char *buf, uint32_t len)
{
	return pread_all(fd, buf, len, off + sizeof(struct ic_holding));
}

int ic_holdings_walk(int fd, uint64_t end,
		     int (*fn)(uint64_t off, const struct ic_holding *h, void *data), void *data)
{
	struct ic_holding h;

	for (uint64_t off = IC_HOLDINGS_START; off < end; off += ic_holdings_size(h.len)) {
		int r = pread_all(fd, &h, sizeof(h), off);

		if (r < 0)
			return r;
		if (!h.key || h.len > IC_HOLDINGS_MSG_MAX || off + ic_holdings_size(h.len) > end)
			return -EPROTO;
		if (h.live) {
			r = fn(off, &h, data);
			if (r < 0)
				return r;
		}
	}
	return 0;
}
