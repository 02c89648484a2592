/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_SERVER_ACCEPTOR_H
#define IC_SERVER_ACCEPTOR_H

#include <pthread.h>
#include <stdbool.h>
#include <urcu/lfstack.h>
#include <urcu/list.h>

#include "common/macros.h"
#include "server/request.h"
#include "server/stats.h"

struct ic_live;
struct ic_source;

/* An acceptor thread: it owns an epoll set over its sources, receives their notifications,
 * serves fast ones in place and queues the rest on its CPU's queue. (doc/design.md §2) */
struct ic_acceptor {
	/* The server's (main thread, under its reload lock). */
	unsigned idx;
	int cpu; /* -1: not pinned */
	pthread_t thread;
	bool started;
	int epfd;
	int evfd; /* wakes the thread for its inbox and for stop */
	int stop; /* atomic */
	const struct ic_live *live;

	/* Shared: other threads push, the owner pops. */
	IC_ALIGNED_CACHELINE struct cds_lfs_stack inbox; /* sources to adopt */
	int n_sources;					 /* atomic: for least-loaded choice */

	/* The owner thread's alone (the server's once the thread is stopped). */
	IC_ALIGNED_CACHELINE struct cds_list_head sources;
	struct cds_list_head paused; /* sources over their container's in-flight cap */
	struct ic_request_cache cache;
	struct ic_stats stats;
};

/* Server, once per slot. */
int ic_acceptor_init(struct ic_acceptor *a, unsigned idx, const struct ic_live *live);
/* Server: drops every source it still holds and frees its requests; no request of it may
 * still be out. */
void ic_acceptor_fini(struct ic_acceptor *a);
int ic_acceptor_start(struct ic_acceptor *a, int cpu);
/* Server: the thread exits and is joined; its sources stay with it, unwatched. */
void ic_acceptor_stop(struct ic_acceptor *a);
/* Any thread: a gets src (and the caller's reference to it) and watches it from its next
 * wake-up. */
void ic_acceptor_give(struct ic_acceptor *a, struct ic_source *src);
/* Server, after ic_acceptor_stop: hand every source a held (and its reference) to fn. */
void ic_acceptor_take_sources(struct ic_acceptor *a, void (*fn)(struct ic_source *, void *),
			      void *data);
/* Any thread: how many sources a holds, for the least-loaded choice. */
int ic_acceptor_load(const struct ic_acceptor *a);

#endif
