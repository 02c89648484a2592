/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/tsan.h"
#include "server/queue.h"

#define OVERFLOW_RUN (IC_QUEUE_KEYS + 1)

void ic_queue_init(struct ic_queue *q)
{
	memset(q, 0, sizeof(*q));
	cds_wfcq_init(&q->head, &q->tail);
}

void ic_queue_destroy(struct ic_queue *q)
{
	cds_wfcq_destroy(&q->head, &q->tail);
}

int ic_queue_push(struct ic_queue *q, struct ic_queue_node *node, uint64_t capacity)
{
	/* Reserve first so that concurrent producers never overshoot the capacity. */
	if (__atomic_add_fetch(&q->depth, 1, __ATOMIC_RELAXED) > capacity) {
		__atomic_sub_fetch(&q->depth, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&q->full, 1, __ATOMIC_RELAXED);
		return -ENOSPC;
	}
	cds_wfcq_node_init(&node->wfcq);
	IC_HANDOFF_PUBLISH(node);
	/* cds_wfcq_enqueue is a full barrier and returns false when the queue was empty. */
	return cds_wfcq_enqueue(&q->head, &q->tail, &node->wfcq) ? 0 : 1;
}

static unsigned key_bucket(const void *key)
{
	uint64_t h = (uint64_t)(uintptr_t)key * 0x9e3779b97f4a7c15ULL;

	return (unsigned)(h >> 32) % IC_QUEUE_KEYS;
}

/* Under the dequeue lock: run i takes the last turn. */
static void ring_append(struct ic_queue *q, uint16_t i)
{
	q->rr.runs[i].rnext = 0;
	if (q->rr.ring_tail)
		q->rr.runs[q->rr.ring_tail].rnext = i;
	else
		q->rr.ring_head = i;
	q->rr.ring_tail = i;
}

/* Under the dequeue lock: a run for a key that has none; the overflow run when all are out. */
static uint16_t run_new(struct ic_queue *q, const void *key)
{
	unsigned b = key_bucket(key);
	uint16_t i = q->rr.free;

	if (i)
		q->rr.free = q->rr.runs[i].rnext;
	else if (q->rr.used < IC_QUEUE_KEYS)
		i = ++q->rr.used;
	else
		return OVERFLOW_RUN;
	q->rr.runs[i] = (struct ic_queue_run){.key = key, .hnext = q->rr.bucket[b]};
	q->rr.bucket[b] = i;
	return i;
}

/* Under the dequeue lock: run i is empty; its key gets a new one when it comes back. */
static void run_free(struct ic_queue *q, uint16_t i)
{
	uint16_t *pp = &q->rr.bucket[key_bucket(q->rr.runs[i].key)];

	while (*pp != i)
		pp = &q->rr.runs[*pp].hnext;
	*pp = q->rr.runs[i].hnext;
	q->rr.runs[i].rnext = q->rr.free;
	q->rr.free = i;
}

/* Under the dequeue lock: node joins the tail of its key's run. A key new to the ring takes
 * the last turn, behind every key already waiting. While the overflow run has nodes, new keys
 * join it, so that no key has nodes in two runs and each key's order holds. */
static void stage(struct ic_queue *q, struct ic_queue_node *node)
{
	uint16_t i;
	struct ic_queue_run *run;

	IC_HANDOFF_TAKE(node);
	i = q->rr.bucket[key_bucket(node->key)];
	while (i && q->rr.runs[i].key != node->key)
		i = q->rr.runs[i].hnext;
	if (!i)
		i = q->rr.runs[OVERFLOW_RUN].head ? OVERFLOW_RUN : run_new(q, node->key);
	run = &q->rr.runs[i];
	node->next = NULL;
	if (run->head) {
		run->tail->next = node;
	} else {
		run->head = node;
		ring_append(q, i);
	}
	run->tail = node;
}

struct ic_queue_node *ic_queue_pop(struct ic_queue *q)
{
	struct cds_wfcq_node *w;
	struct ic_queue_node *node = NULL;
	struct ic_queue_run *run;
	uint16_t i;

	/* Counts the staged runs too; a push still on its way makes us look for nothing. */
	if (__atomic_load_n(&q->depth, __ATOMIC_RELAXED) == 0)
		return NULL;
	cds_wfcq_dequeue_lock(&q->head, &q->tail);
	/* One request alone, as one container's usually is: nothing to take turns with. */
	if (!q->rr.ring_head) {
		w = __cds_wfcq_dequeue_blocking(&q->head, &q->tail);
		if (w && cds_wfcq_empty(&q->head, &q->tail)) {
			__atomic_sub_fetch(&q->depth, 1, __ATOMIC_RELAXED);
			cds_wfcq_dequeue_unlock(&q->head, &q->tail);
			node = caa_container_of(w, struct ic_queue_node, wfcq);
			IC_HANDOFF_TAKE(node);
			return node;
		}
		if (w)
			stage(q, caa_container_of(w, struct ic_queue_node, wfcq));
	}
	/* Bounded by the queue's capacity: producers cannot push past it. */
	while ((w = __cds_wfcq_dequeue_blocking(&q->head, &q->tail)))
		stage(q, caa_container_of(w, struct ic_queue_node, wfcq));
	i = q->rr.ring_head;
	if (i) {
		run = &q->rr.runs[i];
		node = run->head;
		run->head = node->next;
		q->rr.ring_head = run->rnext;
		if (!q->rr.ring_head)
			q->rr.ring_tail = 0;
		if (run->head)
			ring_append(q, i);
		else if (i != OVERFLOW_RUN)
			run_free(q, i);
		__atomic_sub_fetch(&q->depth, 1, __ATOMIC_RELAXED);
	}
	cds_wfcq_dequeue_unlock(&q->head, &q->tail);
	return node;
}

void ic_queue_for_each(struct ic_queue *q, void (*fn)(struct ic_queue_node *node, void *data),
		       void *data)
{
	struct cds_wfcq_node *w;

	cds_wfcq_dequeue_lock(&q->head, &q->tail);
	for (uint16_t i = q->rr.ring_head; i; i = q->rr.runs[i].rnext)
		for (struct ic_queue_node *n = q->rr.runs[i].head; n; n = n->next)
			fn(n, data);
	__cds_wfcq_for_each_blocking(&q->head, &q->tail, w)
	{
		struct ic_queue_node *n = caa_container_of(w, struct ic_queue_node, wfcq);

		IC_HANDOFF_TAKE(n);
		fn(n, data);
	}
	cds_wfcq_dequeue_unlock(&q->head, &q->tail);
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
