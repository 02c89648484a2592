/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/macros.h"
#include "server/queue.h"

#define NPROD	  4
#define PER_PROD  100000u
#define TOTAL	  (NPROD * PER_PROD)
#define UNBOUNDED UINT64_MAX

TestSuite(queue, .timeout = 120);

struct item {
	struct ic_queue_node node;
	unsigned producer;
	unsigned seq;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct item *item_of(struct ic_queue_node *node)
{
	return caa_container_of(node, struct item, node);
}

/* Several producers, one or more consumers, one unbounded queue. */
struct race {
	struct ic_queue q;
	struct item *items;	    /* items[p * PER_PROD + seq] */
	unsigned producers_done;    /* atomic */
	uint8_t *seen;		    /* atomic per slot: times consumed */
	unsigned long out_of_order; /* atomic: a consumer saw a producer's seq not increase */
	unsigned long popped;	    /* atomic */
};

struct producer_arg {
	struct race *r;
	unsigned id;
};

static void *produce(void *data)
{
	struct producer_arg *a = data;
	struct race *r = a->r;

	for (unsigned s = 0; s < PER_PROD; s++) {
		struct item *it = &r->items[a->id * PER_PROD + s];

		it->producer = a->id;
		it->seq = s;
		it->node.key = &r->items[a->id * PER_PROD]; /* each producer a container */
		(void)ic_queue_push(&r->q, &it->node, UNBOUNDED);
	}
	__atomic_add_fetch(&r->producers_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Pops until every producer is done and the queue is empty. Order is checked per consumer: the
 * queue promises FIFO per producer to each dequeuer, whoever else steals in between. */
static void *consume(void *data)
{
	struct race *r = data;
	long last[NPROD];

	for (unsigned p = 0; p < NPROD; p++)
		last[p] = -1;
	for (;;) {
		/* Read before popping: once every push has returned, a NULL pop is final. */
		bool done = __atomic_load_n(&r->producers_done, __ATOMIC_ACQUIRE) == NPROD;
		struct ic_queue_node *node = ic_queue_pop(&r->q);
		struct item *it;

		if (!node) {
			if (done)
				break;
			sched_yield();
			continue;
		}
		it = item_of(node);
		__atomic_add_fetch(&r->seen[it->producer * PER_PROD + it->seq], 1,
				   __ATOMIC_RELAXED);
		if ((long)it->seq <= last[it->producer])
			__atomic_add_fetch(&r->out_of_order, 1, __ATOMIC_RELAXED);
		last[it->producer] = it->seq;
		__atomic_add_fetch(&r->popped, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void race_run(struct race *r, unsigned nconsumers)
{
	struct producer_arg args[NPROD];
	pthread_t prod[NPROD], cons[2];

	cr_assert_leq(nconsumers, ARRAY_SIZE(cons));
	memset(r, 0, sizeof(*r));
	ic_queue_init(&r->q);
	r->items = calloc(TOTAL, sizeof(*r->items));
	r->seen = calloc(TOTAL, sizeof(*r->seen));
	cr_assert(r->items && r->seen);

	for (unsigned c = 0; c < nconsumers; c++)
		cr_assert_eq(pthread_create(&cons[c], NULL, consume, r), 0);
	for (unsigned p = 0; p < NPROD; p++) {
		args[p] = (struct producer_arg){.r = r, .id = p};
		cr_assert_eq(pthread_create(&prod[p], NULL, produce, &args[p]), 0);
	}
	for (unsigned p = 0; p < NPROD; p++)
		pthread_join(prod[p], NULL);
	for (unsigned c = 0; c < nconsumers; c++)
		pthread_join(cons[c], NULL);
}

static void race_done(struct race *r)
{
	ic_queue_destroy(&r->q);
	free(r->items);
	free(r->seen);
}

/* Every item consumed exactly once; reports the first offender. */
static void assert_each_seen_once(struct race *r)
{
	unsigned long missing = 0, duplicated = 0;
	long first_bad = -1;

	for (unsigned long i = 0; i < TOTAL; i++) {
		if (r->seen[i] == 1)
			continue;
		if (r->seen[i] == 0)
			missing++;
		else
			duplicated++;
		if (first_bad < 0)
			first_bad = (long)i;
	}
	cr_assert_eq(missing + duplicated, 0,
		     "%lu lost, %lu duplicated; first: producer %ld seq %ld seen %d times", missing,
		     duplicated, first_bad / PER_PROD, first_bad % PER_PROD,
		     first_bad >= 0 ? r->seen[first_bad] : 1);
	cr_assert_eq(r->popped, TOTAL);
	cr_assert_eq(ic_queue_depth(&r->q), 0);
	cr_assert_null(ic_queue_pop(&r->q));
}

Test(queue, several_producers_one_consumer_lose_nothing)
{
	static struct race r;

	race_run(&r, 1);
	assert_each_seen_once(&r);
	race_done(&r);
}

Test(queue, order_is_fifo_per_producer)
{
	static struct race r;

	race_run(&r, 1);
	cr_assert_eq(r.out_of_order, 0, "%lu items came before an earlier one of their producer",
		     r.out_of_order);
	cr_assert_eq(r.popped, TOTAL);
	race_done(&r);
}

Test(queue, two_consumers_stealing_lose_nothing_and_duplicate_nothing)
{
	static struct race r;

	race_run(&r, 2);
	assert_each_seen_once(&r);
	cr_assert_eq(r.out_of_order, 0, "a consumer saw a producer's items out of order");
	race_done(&r);
}

/* 1 means "wake a worker": nothing waited on the wait-free queue. What a pop already moved into
 * runs is the queue's, for whoever pops next, so a push behind it says 1 again. */
Test(queue, push_reports_empty_to_nonempty_transition_once)
{
	struct ic_queue q;
	struct item it[4] = {0};

	ic_queue_init(&q);
	cr_assert_eq(ic_queue_push(&q, &it[0].node, UNBOUNDED), 1);
	cr_assert_eq(ic_queue_push(&q, &it[1].node, UNBOUNDED), 0);
	cr_assert_eq(ic_queue_push(&q, &it[2].node, UNBOUNDED), 0);
	cr_assert_eq(ic_queue_pop(&q), &it[0].node);
	cr_assert_eq(ic_queue_depth(&q), 2);
	cr_assert_eq(ic_queue_push(&q, &it[3].node, UNBOUNDED), 1);
	cr_assert_eq(ic_queue_pop(&q), &it[1].node);
	cr_assert_eq(ic_queue_pop(&q), &it[2].node);
	cr_assert_eq(ic_queue_pop(&q), &it[3].node);
	cr_assert_null(ic_queue_pop(&q));
	cr_assert_eq(ic_queue_push(&q, &it[0].node, UNBOUNDED), 1);
	cr_assert_eq(ic_queue_pop(&q), &it[0].node);
	ic_queue_destroy(&q);
}

Test(queue, capacity_refuses_and_counts_full)
{
	struct ic_queue q;
	struct item it[5] = {0};

	ic_queue_init(&q);
	for (int i = 0; i < 3; i++)
		cr_assert_geq(ic_queue_push(&q, &it[i].node, 3), 0);
	cr_assert_eq(ic_queue_push(&q, &it[3].node, 3), -ENOSPC);
	cr_assert_eq(q.full, 1);
	cr_assert_eq(ic_queue_depth(&q), 3);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(ic_queue_pop(&q), &it[i].node, "the refused node must not be queued");
	cr_assert_null(ic_queue_pop(&q));
	cr_assert_eq(ic_queue_depth(&q), 0);
	/* Room again once drained. */
	cr_assert_eq(ic_queue_push(&q, &it[4].node, 3), 1);
	cr_assert_eq(ic_queue_pop(&q), &it[4].node);
	cr_assert_eq(q.full, 1);
	ic_queue_destroy(&q);
}

#define CAP_ROUNDS 300
#define CAP	   16
#define CAP_TRIES  32 /* pushes per producer per round, well past the capacity together */

struct cap_race {
	struct ic_queue q;
	pthread_barrier_t start, stop;
	struct item items[NPROD][CAP_TRIES];
	unsigned long accepted; /* atomic, all rounds */
	unsigned long refused;	/* atomic, all rounds */
};

struct cap_arg {
	struct cap_race *c;
	unsigned id;
};

static void *cap_produce(void *data)
{
	struct cap_arg *a = data;
	struct cap_race *c = a->c;

	for (int round = 0; round < CAP_ROUNDS; round++) {
		pthread_barrier_wait(&c->start);
		for (int i = 0; i < CAP_TRIES; i++) {
			int r = ic_queue_push(&c->q, &c->items[a->id][i].node, CAP);

			if (r == -ENOSPC)
				__atomic_add_fetch(&c->refused, 1, __ATOMIC_RELAXED);
			else
				__atomic_add_fetch(&c->accepted, 1, __ATOMIC_RELAXED);
		}
		pthread_barrier_wait(&c->stop);
	}
	return NULL;
}

Test(queue, concurrent_producers_never_exceed_capacity)
{
	static struct cap_race c;
	struct cap_arg args[NPROD];
	pthread_t th[NPROD];
	unsigned long queued_max = 0, queued_min = ~0ul;

	ic_queue_init(&c.q);
	cr_assert_eq(pthread_barrier_init(&c.start, NULL, NPROD + 1), 0);
	cr_assert_eq(pthread_barrier_init(&c.stop, NULL, NPROD + 1), 0);
	for (unsigned p = 0; p < NPROD; p++) {
		args[p] = (struct cap_arg){.c = &c, .id = p};
		cr_assert_eq(pthread_create(&th[p], NULL, cap_produce, &args[p]), 0);
	}
	for (int round = 0; round < CAP_ROUNDS; round++) {
		unsigned long queued = 0;

		pthread_barrier_wait(&c.start);
		pthread_barrier_wait(&c.stop);
		/* Producers are parked on the next start: count what really went in. */
		cr_assert_leq(ic_queue_depth(&c.q), CAP);
		while (ic_queue_pop(&c.q) && queued <= NPROD * CAP_TRIES)
			queued++;
		queued_max = IC_MAX(queued_max, queued);
		queued_min = IC_MIN(queued_min, queued);
		cr_assert_eq(ic_queue_depth(&c.q), 0);
	}
	for (unsigned p = 0; p < NPROD; p++)
		pthread_join(th[p], NULL);

	cr_assert_eq(queued_max, CAP, "a round queued %lu items into a queue of %d", queued_max,
		     CAP);
	cr_assert_eq(queued_min, CAP, "a round refused while there was room (%lu queued)",
		     queued_min);
	cr_assert_eq(c.accepted, (unsigned long)CAP_ROUNDS * CAP);
	cr_assert_eq(c.refused, (unsigned long)CAP_ROUNDS * (NPROD * CAP_TRIES - CAP));
	cr_assert_eq(c.q.full, c.refused);
	pthread_barrier_destroy(&c.start);
	pthread_barrier_destroy(&c.stop);
	ic_queue_destroy(&c.q);
}

/* One worker's sleep, as the contract in queue.h spells it: prepare, re-check, sleep unless
 * work was found, finish. Returns the node or NULL; *timed_out tells whether a sleep ran its
 * full bound without a wake-up. */
static struct ic_queue_node *sleep_for_work(struct ic_queue *q, int timeout_ms, bool *timed_out)
{
	struct ic_queue_node *node;
	uint32_t seen = ic_queue_sleep_prepare(q);

	*timed_out = false;
	node = ic_queue_pop(q);
	if (!node) {
		uint64_t t0 = now_ms();

		ic_queue_sleep(q, seen, timeout_ms);
		/* 90%: a clock tick of slack, no claim about how fast a wake-up is. */
		*timed_out = now_ms() - t0 >= (uint64_t)timeout_ms * 9 / 10;
		node = ic_queue_pop(q);
	}
	ic_queue_sleep_finish(q);
	return node;
}

struct sleeper {
	struct ic_queue *q;
	struct ic_queue_node *got;
	uint64_t got_ms;
	unsigned timeouts;
};

static void *sleeper_run(void *data)
{
	struct sleeper *s = data;

	/* A spurious return just goes back to sleep; 3 rounds of 5 s at most. */
	for (int i = 0; i < 3 && !s->got; i++) {
		bool timed_out;

		s->got = sleep_for_work(s->q, 5000, &timed_out);
		s->timeouts += timed_out;
	}
	s->got_ms = now_ms();
	return NULL;
}

Test(queue, wake_reaches_a_sleeping_consumer)
{
	struct ic_queue q;
	struct item it = {0};
	struct sleeper s = {.q = &q};
	pthread_t th;
	uint64_t pushed_ms;

	ic_queue_init(&q);
	cr_assert_eq(pthread_create(&th, NULL, sleeper_run, &s), 0);
	/* Let it get into futex_wait; if it has not yet, the test only gets easier. */
	for (int i = 0; i < 1000 && __atomic_load_n(&q.sleepers, __ATOMIC_SEQ_CST) == 0; i++)
		usleep(1000);
	usleep(100 * 1000);
	pushed_ms = now_ms();
	cr_assert_eq(ic_queue_push(&q, &it.node, UNBOUNDED), 1);
	ic_queue_wake(&q);
	pthread_join(th, NULL);

	cr_assert_eq(s.got, &it.node);
	cr_assert_eq(s.timeouts, 0, "the consumer slept through the wake-up");
	cr_assert_lt(s.got_ms - pushed_ms, 2000, "woken after %llu ms",
		     (unsigned long long)(s.got_ms - pushed_ms));
	cr_assert_eq(q.sleepers, 0);
	ic_queue_destroy(&q);
}

#define WAKE_ROUNDS   2000
#define WAKE_BOUND_MS 1000
#define WAKE_GIVE_UP  3 /* lost wake-ups before stopping: each costs the full bound */

struct wake_race {
	struct ic_queue q;
	pthread_barrier_t start, stop;
	struct item items[WAKE_ROUNDS];
	bool give_up;	   /* written by the consumer between barriers */
	unsigned rounds;   /* rounds run */
	unsigned timeouts; /* rounds where the consumer needed its timeout */
	unsigned missing;  /* rounds where the consumer got nothing at all */
};

static void spin(unsigned n)
{
	for (volatile unsigned i = 0; i < n; i++)
		caa_cpu_relax();
}

static void *wake_consumer(void *data)
{
	struct wake_race *w = data;
	unsigned seed = 1;

	for (int round = 0; round < WAKE_ROUNDS; round++) {
		struct ic_queue_node *node = NULL;
		bool timed_out = false;

		pthread_barrier_wait(&w->start);
		if (w->give_up) {
			pthread_barrier_wait(&w->stop);
			break;
		}
		spin(rand_r(&seed) % 2000);
		/* Two sleeps at most: a spurious return is not a lost wake-up. */
		for (int i = 0; i < 2 && !node; i++) {
			bool t;

			node = sleep_for_work(&w->q, WAKE_BOUND_MS, &t);
			timed_out |= t;
		}
		w->rounds++;
		w->timeouts += timed_out;
		w->missing += node != &w->items[round].node;
		if (w->timeouts >= WAKE_GIVE_UP)
			w->give_up = true;
		pthread_barrier_wait(&w->stop);
	}
	return NULL;
}

static void *wake_producer(void *data)
{
	struct wake_race *w = data;
	unsigned seed = 2;

	for (int round = 0; round < WAKE_ROUNDS; round++) {
		pthread_barrier_wait(&w->start);
		if (w->give_up) {
			pthread_barrier_wait(&w->stop);
			break;
		}
		spin(rand_r(&seed) % 5000); /* mostly after the consumer prepared */
		(void)ic_queue_push(&w->q, &w->items[round].node, UNBOUNDED);
		ic_queue_wake(&w->q);
		pthread_barrier_wait(&w->stop);
	}
	return NULL;
}

Test(queue, no_lost_wakeup_under_race)
{
	static struct wake_race w;
	pthread_t cons, prod;

	ic_queue_init(&w.q);
	cr_assert_eq(pthread_barrier_init(&w.start, NULL, 2), 0);
	cr_assert_eq(pthread_barrier_init(&w.stop, NULL, 2), 0);
	cr_assert_eq(pthread_create(&cons, NULL, wake_consumer, &w), 0);
	cr_assert_eq(pthread_create(&prod, NULL, wake_producer, &w), 0);
	pthread_join(cons, NULL);
	pthread_join(prod, NULL);

	cr_assert_eq(w.timeouts, 0, "%u of %u rounds needed the %d ms timeout: lost wake-up",
		     w.timeouts, w.rounds, WAKE_BOUND_MS);
	cr_assert_eq(w.missing, 0, "%u rounds ended without the item", w.missing);
	cr_assert_eq(w.rounds, WAKE_ROUNDS);
	cr_assert_null(ic_queue_pop(&w.q));
	pthread_barrier_destroy(&w.start);
	pthread_barrier_destroy(&w.stop);
	ic_queue_destroy(&w.q);
}

/* Fairness (doc/design.md §4.3): a queue takes turns between keys (containers), one node each,
 * so a key that floods the queue delays another by one node per turn, not by its backlog. */

/* Pushes n items of key k onto q, numbering them from seq. */
static void push_n(struct ic_queue *q, struct item *it, unsigned n, const void *k, unsigned seq)
{
	for (unsigned i = 0; i < n; i++) {
		it[i] = (struct item){
		    .node.key = k, .producer = (unsigned)(uintptr_t)k, .seq = seq + i};
		cr_assert_geq(ic_queue_push(q, &it[i].node, UNBOUNDED), 0);
	}
}

/* The keys of what q gives, in order, as one letter each ('A' + key), at most n. */
static void pop_keys(struct ic_queue *q, char *out, size_t n)
{
	struct ic_queue_node *node;
	size_t i = 0;

	while (i + 1 < n && (node = ic_queue_pop(q)))
		out[i++] = (char)('A' + item_of(node)->producer);
	out[i] = 0;
}

#define KEY(n) ((const void *)(uintptr_t)(n))

Test(queue, a_quiet_key_is_served_in_the_first_turns_behind_a_flood)
{
	static struct ic_queue q;
	static struct item a[100], b[1];
	struct ic_queue_node *node;
	int b_at = -1;

	ic_queue_init(&q);
	push_n(&q, a, 100, KEY(0), 0);
	push_n(&q, b, 1, KEY(1), 0);
	for (int i = 0; (node = ic_queue_pop(&q)); i++) {
		struct item *it = item_of(node);

		if (it == &b[0])
			b_at = i;
		else
			cr_assert_eq(it, &a[i - (b_at >= 0)], "the flood's order broke at %d", i);
	}
	cr_assert_eq(b_at, 1, "the quiet key came %d-th behind a flood of 100", b_at + 1);
	cr_assert_eq(ic_queue_depth(&q), 0);
	ic_queue_destroy(&q);
}

Test(queue, keys_take_turns_one_node_each_in_order_of_arrival)
{
	static struct ic_queue q;
	struct item a[3], b[3], c[1];
	char got[16];

	ic_queue_init(&q);
	push_n(&q, a, 3, KEY(0), 0);
	push_n(&q, b, 3, KEY(1), 0);
	push_n(&q, c, 1, KEY(2), 0);
	pop_keys(&q, got, sizeof(got));
	cr_assert_str_eq(got, "ABCABAB");
	ic_queue_destroy(&q);
}

Test(queue, a_key_arriving_between_pops_takes_the_next_free_turn)
{
	static struct ic_queue q;
	struct item a[10], b[1];
	char got[16];

	ic_queue_init(&q);
	push_n(&q, a, 10, KEY(0), 0);
	cr_assert_eq(ic_queue_pop(&q), &a[0].node);
	push_n(&q, b, 1, KEY(1), 0);
	pop_keys(&q, got, sizeof(got));
	cr_assert_str_eq(got, "ABAAAAAAAA");
	ic_queue_destroy(&q);
}

/* Past IC_QUEUE_KEYS keys at once the others share one turn: nothing is lost or served twice,
 * and each key's nodes keep their order. */
Test(queue, past_the_key_limit_nothing_is_lost_and_each_key_keeps_its_order)
{
	enum { KEYS = IC_QUEUE_KEYS + 100, PER = 3 };
	static struct ic_queue q;
	static struct item it[KEYS][PER];
	static unsigned next[KEYS];
	struct ic_queue_node *node;
	unsigned n = 0;
	char got[16];

	ic_queue_init(&q);
	for (unsigned round = 0; round < PER; round++)
		for (unsigned k = 0; k < KEYS; k++)
			push_n(&q, &it[k][round], 1, KEY(k + 1), round);
	while ((node = ic_queue_pop(&q))) {
		struct item *x = item_of(node);
		unsigned k = x->producer - 1;

		cr_assert_eq(x->seq, next[k], "key %u: %u came before %u", k, x->seq, next[k]);
		next[k]++;
		n++;
	}
	cr_assert_eq(n, KEYS * PER);
	for (unsigned k = 0; k < KEYS; k++)
		cr_assert_eq(next[k], PER);
	/* Every run went back: keys get turns of their own again. */
	for (unsigned k = 0; k < 3; k++)
		push_n(&q, &it[k][0], 2, KEY(k + 1), 0);
	pop_keys(&q, got, sizeof(got));
	cr_assert_str_eq(got, "BCDBCD");
	ic_queue_destroy(&q);
}

static void count_node(struct ic_queue_node *node, void *data)
{
	(void)node;
	(*(unsigned *)data)++;
}

/* The deadline sweep must see what a pop took off the wait-free queue into runs as well as
 * what is still on it. */
Test(queue, for_each_visits_every_queued_node_staged_or_not)
{
	static struct ic_queue q;
	struct item a[5], b[3];
	unsigned seen = 0;

	ic_queue_init(&q);
	push_n(&q, a, 5, KEY(0), 0);
	cr_assert_eq(ic_queue_pop(&q), &a[0].node); /* the other four now wait in runs */
	push_n(&q, b, 3, KEY(1), 0);		    /* these on the wait-free queue */
	ic_queue_for_each(&q, count_node, &seen);
	cr_assert_eq(seen, 7);
	cr_assert_eq(ic_queue_depth(&q), 7);
	ic_queue_destroy(&q);
}
