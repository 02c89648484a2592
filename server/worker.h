/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_SERVER_WORKER_H
#define IC_SERVER_WORKER_H

#include <pthread.h>
#include <stdbool.h>

#include "common/macros.h"
#include "server/request.h"
#include "server/stats.h"

struct ic_conf;
struct ic_live;

enum ic_worker_stop {
	IC_WORKER_RUN = 0,
	IC_WORKER_EXIT = 1,  /* exit now; what is queued is stolen by the others */
	IC_WORKER_DRAIN = 2, /* exit once every queue is empty */
	_IC_WORKER_STOP_MAX
};

/* A worker thread: it serves the requests of its home queue, and steals from the others when
 * idle. (doc/design.md §2) */
struct ic_worker {
	unsigned idx;
	unsigned home; /* queue index */
	int cpu;
	pthread_t thread;
	bool started;
	int stop; /* atomic: enum ic_worker_stop */
	const struct ic_live *live;
	struct ic_conf *conf; /* the snapshot this worker serves with, pinned by a reference */
	struct ic_serving serving;
	IC_ALIGNED_CACHELINE struct ic_stats stats;
};

/* Server (main thread, under its reload lock). */
struct ic_worker *ic_worker_new(unsigned idx, const struct ic_live *live);
void ic_worker_free(struct ic_worker *w);
int ic_worker_start(struct ic_worker *w, unsigned home, int cpu);
/* Ask w to stop; the caller wakes the queues and then joins. */
void ic_worker_request_stop(struct ic_worker *w, enum ic_worker_stop how);
void ic_worker_join(struct ic_worker *w);

#endif
