/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/tsan.h"
#include "server/queue.h"

void ic_queue_init(struct ic_queue *q)
{
	cds_wfcq_init(&q->head, &q->tail);
	q->depth = 0;
	q->futex = 0;
	q->sleepers = 0;
	q->full = 0;
}

void ic_queue_destroy(struct ic_queue *q)
{
	cds_wfcq_destroy(&q->head, &q->tail);
}

int ic_queue_push(struct ic_queue *q, struct cds_wfcq_node *node, uint64_t capacity)
{
	/* Reserve first so that concurrent producers never overshoot the capacity. */
	if (__atomic_add_fetch(&q->depth, 1, __ATOMIC_RELAXED) > capacity) {
		__atomic_sub_fetch(&q->depth, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&q->full, 1, __ATOMIC_RELAXED);
		return -ENOSPC;
	}
	cds_wfcq_node_init(node);
	IC_HANDOFF_PUBLISH(node);
	/* cds_wfcq_enqueue is a full barrier and returns false when the queue was empty. */
	return cds_wfcq_enqueue(&q->head, &q->tail, node) ? 0 : 1;
}

struct cds_wfcq_node *ic_queue_pop(struct ic_queue *q)
{
	struct cds_wfcq_node *node;

	if (cds_wfcq_empty(&q->head, &q->tail))
		return NULL;
	node = cds_wfcq_dequeue_blocking(&q->head, &q->tail);
	if (node) {
		IC_HANDOFF_TAKE(node);
		__atomic_sub_fetch(&q->depth, 1, __ATOMIC_RELAXED);
	}
	return node;
}

uint64_t ic_queue_depth(const struct ic_queue *q)
{
	return __atomic_load_n(&q->depth, __ATOMIC_RELAXED);
}

void ic_queue_wake(struct ic_queue *q)
{
	/* Only a syscall when somebody sleeps: the common busy case costs one load. The load pairs
	 * with the sleeper's increment in ic_queue_sleep_prepare (both seq_cst, Dekker style):
	 * either we see the sleeper, or it sees what we queued before calling us. */
	cmm_smp_mb();
	if (__atomic_load_n(&q->sleepers, __ATOMIC_SEQ_CST) == 0)
		return;
	__atomic_add_fetch(&q->futex, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &q->futex, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

uint32_t ic_queue_sleep_prepare(struct ic_queue *q)
{
	__atomic_add_fetch(&q->sleepers, 1, __ATOMIC_SEQ_CST);
	/* The caller's re-check of the queues (relaxed loads inside cds_wfcq) must not move above
	 * the increment on weakly ordered CPUs. */
	cmm_smp_mb();
	return __atomic_load_n(&q->futex, __ATOMIC_SEQ_CST);
}

void ic_queue_sleep(struct ic_queue *q, uint32_t seen, int timeout_ms)
{
	struct timespec ts = {.tv_sec = timeout_ms / 1000,
			      .tv_nsec = (timeout_ms % 1000) * 1000000L};

	syscall(SYS_futex, &q->futex, FUTEX_WAIT_PRIVATE, seen, &ts, NULL, 0);
}

void ic_queue_sleep_finish(struct ic_queue *q)
{
	__atomic_sub_fetch(&q->sleepers, 1, __ATOMIC_SEQ_CST);
}

void ic_topology_wake_idle(const struct ic_topology *topo, unsigned except)
{
	for (unsigned q = 0; q < topo->n; q++) {
		struct ic_queue *queue = topo->queues[q];

		if (q != except && __atomic_load_n(&queue->sleepers, __ATOMIC_RELAXED)) {
			ic_queue_wake(queue);
			return;
		}
	}
}
