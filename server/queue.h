/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_SERVER_QUEUE_H
#define IC_SERVER_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <urcu/wfcqueue.h>

#include "common/macros.h"

/* A request as a queue holds it. key names whom it is served for (its container): a queue
 * takes turns between the keys it holds, one node per turn, and serves each key's nodes in the
 * order they were pushed (doc/design.md §4.3). key is compared, never followed. */
struct ic_queue_node {
	struct cds_wfcq_node wfcq;
	struct ic_queue_node *next; /* in its key's run, under the dequeue lock */
	const void *key;
};

/* Keys a queue takes turns between; beyond that many at once, the others share one turn. */
#define IC_QUEUE_KEYS 1024

/* One key's run of nodes taken off the wait-free queue. Indices are 1-based, 0 is none. */
struct ic_queue_run {
	const void *key;
	struct ic_queue_node *head, *tail;
	uint16_t hnext; /* in its hash chain */
	uint16_t rnext; /* in the ring of turns, or the free list */
};

/* One CPU's queue of requests. Producers: acceptor threads (wait-free enqueue). Consumers: the
 * workers whose home it is, and any idle worker stealing, serialised by the queue's dequeue
 * lock (cds_wfcq's own mutex), under which a pop moves what was pushed into per-key runs and
 * serves the runs round-robin. FIFO per producer within a key. Zeroed memory is a valid empty
 * set of runs. */
struct ic_queue {
	struct cds_wfcq_head head;
	IC_ALIGNED_CACHELINE struct cds_wfcq_tail tail;
	IC_ALIGNED_CACHELINE uint64_t depth; /* atomic: pushed and not yet popped */
	uint32_t futex;			     /* bumped by a wake; workers sleep on it */
	uint32_t sleepers;		     /* workers in futex_wait on this queue */
	uint64_t full;			     /* atomic: pushes refused for capacity */
	/* The dequeuers', under the dequeue lock. */
	IC_ALIGNED_CACHELINE struct {
		uint16_t ring_head, ring_tail; /* runs with nodes, in turn order */
		uint16_t free;		       /* runs given back, through rnext */
		uint16_t used;		       /* runs [1, used] were handed out once */
		uint16_t bucket[IC_QUEUE_KEYS];
		/* [1, IC_QUEUE_KEYS] by key; IC_QUEUE_KEYS + 1 the shared overflow run. */
		struct ic_queue_run runs[IC_QUEUE_KEYS + 2];
	} rr;
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
/* Any thread. Returns 1 when nothing waited on the wait-free queue before (the caller wakes a
 * worker after its batch: nodes a pop already moved into runs may be all there is), 0
 * otherwise, -ENOSPC past capacity (nothing queued). */
int ic_queue_push(struct ic_queue *q, struct ic_queue_node *node, uint64_t capacity);
/* Any thread; NULL when empty. The next key's turn: its oldest node. */
struct ic_queue_node *ic_queue_pop(struct ic_queue *q);
/* Any thread, excluding the dequeuers meanwhile (producers may still push): fn on every node
 * queued, none removed. fn must not touch q. */
void ic_queue_for_each(struct ic_queue *q, void (*fn)(struct ic_queue_node *node, void *data),
		       void *data);
uint64_t ic_queue_depth(const struct ic_queue *q);
/* Wake one worker sleeping on q's futex; a load and nothing more when none sleeps. */
void ic_queue_wake(struct ic_queue *q);
/* A worker going to sleep on q: prepare (returns the futex word), re-check every queue it
 * serves, then sleep unless it found work, then finish. Bounded by timeout_ms. */
uint32_t ic_queue_sleep_prepare(struct ic_queue *q);
void ic_queue_sleep(struct ic_queue *q, uint32_t seen, int timeout_ms);
void ic_queue_sleep_finish(struct ic_queue *q);

#endif
