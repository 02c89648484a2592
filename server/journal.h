/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_SERVER_JOURNAL_H
#define IC_SERVER_JOURNAL_H

#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/conf.h"

/* The journal of notifications in flight (doc/design.md §13): a memfd that the keeper holds
 * and every server generation maps. A request writes its notification into its slot when it
 * arrives and marks the slot when its side effect begins; a server that starts after a crash
 * finds there what its predecessor had received and not answered. Plain stores into shared
 * memory: nothing on the request path makes a system call for it. */

#define IC_JOURNAL_PER_ACCEPTOR 4096
/* After the acceptors' ranges, one range for the requests a server takes over at its start. */
#define IC_JOURNAL_RECOVERY_BASE (IC_ACCEPTORS_MAX * IC_JOURNAL_PER_ACCEPTOR)

enum ic_journal_state {
	IC_JOURNAL_FREE = 0,
	IC_JOURNAL_RECEIVING = 1, /* NOTIF_RECV writes into the slot: received if notif.id != 0 */
	IC_JOURNAL_RECEIVED = 2,  /* received, no side effect yet */
	IC_JOURNAL_ACTING = 3,	  /* its side effect began */
	IC_JOURNAL_REPLYING = 4,  /* its answer is being sent, or was */
	_IC_JOURNAL_STATE_MAX
};

struct ic_journal_slot {
	uint32_t state;	   /* atomic: enum ic_journal_state, written last */
	uint32_t attempts; /* servers that received it before this one */
	uint64_t key;	   /* the source it came from (ic_journal_new_key), 0: none */
	struct seccomp_notif notif;
	unsigned char aux[32]; /* what the source needs to answer it (LXC's header) */
};

/* What a dead server left: one notification to answer. */
struct ic_journal_orphan {
	uint64_t key;
	bool acting;
	bool replying; /* its answer may have gone out */
	uint32_t attempts;
	struct seccomp_notif notif;
	unsigned char aux[32];
};

/* Keeper: a new, empty journal; its fd (close-on-exec), or -errno. */
int ic_journal_create(void);
/* Server, once, before its threads: map the keeper's journal. Without one (a server run
 * without keeper), nothing is journaled. */
int ic_journal_map(int fd);
/* Main thread of a server, every second and on its way out: its counters (len bytes, at most
 * 128 KiB) for the next server, which takes them at its start (after a crash, as of the last
 * save); false when none of that size were left. */
void ic_journal_save_stats(const void *p, size_t len);
bool ic_journal_take_stats(void *p, size_t len);
/* Any thread: a key no source of any server generation had. 0 without a journal. */
uint64_t ic_journal_new_key(void);
/* Slot idx, NULL without a journal. Slots [i * PER_ACCEPTOR, (i + 1) * PER_ACCEPTOR) are
 * acceptor i's. */
struct ic_journal_slot *ic_journal_slot(unsigned idx);
/* Server start, before any acceptor runs: copy out every slot the previous server left in
 * use, and free them. Returns how many (*ret: malloc'd, the caller frees), or -errno. */
int ic_journal_take_orphans(struct ic_journal_orphan **ret);

static inline void ic_journal_received(struct ic_journal_slot *s, uint64_t key,
				       const struct seccomp_notif *n, uint32_t attempts,
				       const unsigned char aux[32])
{
	s->key = key;
	s->attempts = attempts;
	memcpy(s->aux, aux, sizeof(s->aux));
	s->notif = *n;
	__atomic_store_n(&s->state, IC_JOURNAL_RECEIVED, __ATOMIC_RELEASE);
}

/* Before NOTIF_RECV into &s->notif: the kernel marks a notification sent before it copies it
 * out, so a crash just after the ioctl must still find it here. */
static inline void ic_journal_receiving(struct ic_journal_slot *s, uint64_t key)
{
	s->key = key;
	s->attempts = 0;
	s->notif.id = 0;
	__atomic_store_n(&s->state, IC_JOURNAL_RECEIVING, __ATOMIC_RELEASE);
}

static inline void ic_journal_set(struct ic_journal_slot *s, enum ic_journal_state state)
{
	__atomic_store_n(&s->state, state, __ATOMIC_RELEASE);
}

#endif
