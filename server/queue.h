/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_SERVER_QUEUE_H
#define IC_SERVER_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <urcu/wfcqueue.h>

#include "common/macros.h"

/* One CPU's queue of requests. Producers: acceptor threads (wait-free enqueue). Consumers: the
 * workers whose home it is, and any idle worker stealing (dequeue serialised by the queue's own
 * mutex inside cds_wfcq). FIFO per producer. */
struct ic_queue {
	struct cds_wfcq_head head;
	IC_ALIGNED_CACHELINE struct cds_wfcq_tail tail;
	IC_ALIGNED_CACHELINE uint64_t depth; /* atomic: enqueued and not yet dequeued */
	uint32_t futex;			     /* bumped by a wake; workers sleep on it */
	uint32_t sleepers;		     /* workers in futex_wait on this queue */
	uint64_t full;			     /* atomic: pushes refused for capacity */
};

/* The queue array as workers and acceptors see it; replaced on reload with rcu_xchg_pointer
 * and freed after a grace period. The queues themselves live for the process. */
struct ic_topology {
	unsigned n;		  /* queues = CPUs */
	uint64_t capacity;	  /* per queue */
	struct ic_queue **queues; /* n entries */
	unsigned *wake; /* wake[q]: whose futex a push onto q bumps (a queue with workers) */
};

/* Wake one sleeping worker whose home is not queue `except`, if any sleeps. Any thread. */
void ic_topology_wake_idle(const struct ic_topology *topo, unsigned except);

void ic_queue_init(struct ic_queue *q);
void ic_queue_destroy(struct ic_queue *q);
/* Any thread. Returns 1 when the queue was empty before (the caller wakes a worker after its
 * batch), 0 otherwise, -ENOSPC past capacity (nothing queued). */
int ic_queue_push(struct ic_queue *q, struct cds_wfcq_node *node, uint64_t capacity);
/* Any thread; NULL when empty. */
struct cds_wfcq_node *ic_queue_pop(struct ic_queue *q);
uint64_t ic_queue_depth(const struct ic_queue *q);
/* Wake one worker sleeping on q's futex; a load and nothing more when none sleeps. */
void ic_queue_wake(struct ic_queue *q);
/* A worker going to sleep on q: prepare (returns the futex word), re-check every queue it
 * serves, then sleep unless it found work, then finish. Bounded by timeout_ms. */
uint32_t ic_queue_sleep_prepare(struct ic_queue *q);
void ic_queue_sleep(struct ic_queue *q, uint32_t seen, int timeout_ms);
void ic_queue_sleep_finish(struct ic_queue *q);

#endif
