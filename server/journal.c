/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/macros.h"
#include "server/journal.h"

#define MAGIC 0x69636a726e6c0002ULL /* "icjrnl", version 2 */

#define STATS_MAX (128 * 1024)

struct header {
	uint64_t magic;
	uint64_t next_key; /* atomic */
	uint64_t n_slots;
	uint64_t stats_len; /* of the counters a server left on its way out; 0: none */
	uint64_t pad[4];
	unsigned char stats[STATS_MAX];
};

#define N_SLOTS ((size_t)(IC_ACCEPTORS_MAX + 1) * IC_JOURNAL_PER_ACCEPTOR)
#define SIZE	(sizeof(struct header) + N_SLOTS * sizeof(struct ic_journal_slot))

static struct header *hdr;
static struct ic_journal_slot *slots;
static int journal_fd = -1;

int ic_journal_create(void)
{
	/* Close-on-exec: a FUSE helper the server runs as a container must never get it. */
	int fd = memfd_create("interceptd-journal", MFD_CLOEXEC), r;
	uint64_t h[3] = {MAGIC, 1, N_SLOTS}; /* magic, next_key, n_slots */

	if (fd < 0)
		return -errno;
	/* Sparse: only the pages of slots in use ever take memory. */
	if (ftruncate(fd, (off_t)SIZE) < 0 || pwrite(fd, h, sizeof(h), 0) != sizeof(h)) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int ic_journal_map(int fd)
{
	void *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	if (((struct header *)p)->magic != MAGIC || ((struct header *)p)->n_slots != N_SLOTS) {
		munmap(p, SIZE);
		return -EPROTO; /* another version's journal */
	}
	hdr = p;
	slots = (struct ic_journal_slot *)(hdr + 1);
	journal_fd = fd;
	return 0;
}

void ic_journal_save_stats(const void *p, size_t len)
{
	if (!hdr || len > STATS_MAX)
		return;
	memcpy(hdr->stats, p, len);
	__atomic_store_n(&hdr->stats_len, len, __ATOMIC_RELEASE);
}

bool ic_journal_take_stats(void *p, size_t len)
{
	if (!hdr || __atomic_load_n(&hdr->stats_len, __ATOMIC_ACQUIRE) != len)
		return false;
	/* Left there: a server that dies before it saves its own leaves them to the next. */
	memcpy(p, hdr->stats, len);
	return true;
}

uint64_t ic_journal_new_key(void)
{
	return hdr ? __atomic_fetch_add(&hdr->next_key, 1, __ATOMIC_RELAXED) : 0;
}

struct ic_journal_slot *ic_journal_slot(unsigned idx)
{
	return slots && idx < N_SLOTS ? &slots[idx] : NULL;
}

/* The slots [*from, *to) on the next pages, at or after slot i, that were ever written: reading
 * the holes of the memfd would allocate them. False past the last. */
static bool next_written(size_t i, size_t *from, size_t *to)
{
	off_t base = (off_t)sizeof(struct header), size = (off_t)sizeof(struct ic_journal_slot);
	off_t data = lseek(journal_fd, base + (off_t)i * size, SEEK_DATA), hole;

	if (data < 0)
		return false;
	hole = lseek(journal_fd, data, SEEK_HOLE);
	if (hole < 0)
		hole = (off_t)SIZE;
	*from = IC_MAX(i, (size_t)((data - base) / size));
	/* A slot that ends on the written page counts. */
	*to = IC_MAX(*from + 1, IC_MIN(N_SLOTS, (size_t)((hole - base + size - 1) / size)));
	return *from < N_SLOTS;
}

int ic_journal_take_orphans(struct ic_journal_orphan **ret)
{
	struct ic_journal_orphan *o = NULL;
	size_t n = 0, cap = 0, from = 0, to = 0;

	*ret = NULL;
	for (size_t i = 0; slots && i < N_SLOTS; i++) {
		if (i >= to) {
			if (!next_written(i, &from, &to))
				break;
			i = from;
		}
		uint32_t st = __atomic_load_n(&slots[i].state, __ATOMIC_ACQUIRE);

		if (st == IC_JOURNAL_FREE || (st == IC_JOURNAL_RECEIVING && !slots[i].notif.id))
			continue;
		if (n == cap) {
			struct ic_journal_orphan *bigger;

			cap = cap ? 2 * cap : 64;
			bigger = realloc(o, cap * sizeof(*o));
			if (!bigger) {
				free(o);
				return -ENOMEM;
			}
			o = bigger;
		}
		o[n].key = slots[i].key;
		o[n].acting = st == IC_JOURNAL_ACTING || st == IC_JOURNAL_REPLYING;
		o[n].replying = st == IC_JOURNAL_REPLYING;
		o[n].attempts = slots[i].attempts;
		o[n].notif = slots[i].notif;
		memcpy(o[n].aux, slots[i].aux, sizeof(o[n].aux));
		n++;
		ic_journal_set(&slots[i], IC_JOURNAL_FREE);
	}
	*ret = o;
	return (int)n;
}
