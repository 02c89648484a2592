/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <urcu.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/proc.h"
#include "common/tsan.h"
#include "server/acceptor.h"
#include "server/journal.h"
#include "server/live.h"
#include "server/queue.h"
#include "server/registry.h"
#include "server/source.h"

#define BATCH 64

int ic_acceptor_init(struct ic_acceptor *a, unsigned idx, const struct ic_live *live)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};

	a->idx = idx;
	a->live = live;
	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	a->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->epfd < 0 || a->evfd < 0)
		return log_error_errno(errno, "acceptor %u: %m", idx);
	if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->evfd, &ev) < 0)
		return log_error_errno(errno, "acceptor %u: %m", idx);
	cds_lfs_init(&a->inbox);
	CDS_INIT_LIST_HEAD(&a->sources);
	CDS_INIT_LIST_HEAD(&a->paused);
	ic_request_cache_init(&a->cache, idx * IC_JOURNAL_PER_ACCEPTOR, IC_JOURNAL_PER_ACCEPTOR);
	return 0;
}

int ic_acceptor_load(const struct ic_acceptor *a)
{
	return __atomic_load_n(&a->n_sources, __ATOMIC_RELAXED);
}

void ic_acceptor_give(struct ic_acceptor *a, struct ic_source *src)
{
	uint64_t one = 1;

	__atomic_add_fetch(&a->n_sources, 1, __ATOMIC_RELAXED);
	cds_lfs_node_init(&src->inbox);
	IC_HANDOFF_PUBLISH(&a->inbox);
	cds_lfs_push(&a->inbox, &src->inbox);
	if (write(a->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_error_errno(errno, "acceptor %u: cannot signal: %m", a->idx);
}

static void adopt_inbox(struct ic_acceptor *a)
{
	struct cds_lfs_head *head = __cds_lfs_pop_all(&a->inbox);
	struct cds_lfs_node *node, *next;

	IC_HANDOFF_TAKE(&a->inbox);
	IC_LFS_FOR_EACH_SAFE(head, node, next)
	{
		struct ic_source *src = caa_container_of(node, struct ic_source, inbox);
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = src};

		src->owner = a;
		if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, src->fd, &ev) < 0) {
			log_error_errno(errno, "acceptor %u: cannot watch %s: %m", a->idx,
					ic_source_name(src));
			__atomic_sub_fetch(&a->n_sources, 1, __ATOMIC_RELAXED);
			ic_source_put(src);
			continue;
		}
		cds_list_add(&src->link, &a->sources);
	}
}

/* Fairness (doc/design.md §6): a container with inflight.max requests in the house gets no
 * more read from its sources until some are answered; the queues stay open to everyone else.
 * The paused list has no bound: every source of the acceptor may be on it. */
static void pause_source(struct ic_acceptor *a, struct ic_source *src)
{
	struct epoll_event ev = {.events = 0, .data.ptr = src};

	if (src->paused || epoll_ctl(a->epfd, EPOLL_CTL_MOD, src->fd, &ev) < 0)
		return;
	src->paused = true;
	cds_list_add_tail(&src->pause_link, &a->paused);
}

static void unpause_source(struct ic_acceptor *a, struct ic_source *src, bool rearm)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = src};

	if (!src->paused)
		return;
	if (rearm)
		epoll_ctl(a->epfd, EPOLL_CTL_MOD, src->fd, &ev);
	src->paused = false;
	cds_list_del_init(&src->pause_link);
}

/* Each round while some are paused: those back under their cap listen again. */
static void resume_sources(struct ic_acceptor *a, const struct ic_conf *conf)
{
	struct ic_source *src, *tmp;

	cds_list_for_each_entry_safe (src, tmp, &a->paused, pause_link) {
		const struct ic_policy *p = ic_container_policy(src->ct, conf);
		unsigned cap = p ? p->inflight_max : 0;

		if (!cap || (unsigned)__atomic_load_n(&src->ct->inflight, __ATOMIC_ACQUIRE) < cap)
			unpause_source(a, src, true);
	}
}

/* Out of the epoll set and the lists; the caller gets our reference. */
static void forget(struct ic_acceptor *a, struct ic_source *src)
{
	unpause_source(a, src, false);
	epoll_ctl(a->epfd, EPOLL_CTL_DEL, src->fd, NULL);
	cds_list_del(&src->link);
	__atomic_sub_fetch(&a->n_sources, 1, __ATOMIC_RELAXED);
}

void ic_acceptor_take_sources(struct ic_acceptor *a, void (*fn)(struct ic_source *, void *),
			      void *data)
{
	struct ic_source *src, *tmp;

	adopt_inbox(a);
	cds_list_for_each_entry_safe (src, tmp, &a->sources, link) {
		forget(a, src);
		fn(src, data);
	}
}

/* One readiness of src: receive, then serve in place or queue. Returns the queue that went
 * from empty to non-empty, -1, or -2 when the source is finished. */
static int receive(struct ic_acceptor *a, struct ic_source *src, struct ic_topology *topo,
		   const struct ic_conf *conf)
{
	struct ic_request *req = ic_request_get(&a->cache);
	unsigned q, cap;
	int cpu, r;

	if (!req) {
		log_error("acceptor %u: out of memory for a request", a->idx);
		return -1;
	}
	switch (src->ops->recv(src, req, conf)) {
	case IC_RECV_OK:
		break;
	case IC_RECV_GONE:
		IC_COUNTER_ADD(a->stats.recv_gone, 1);
		ic_request_unget(req);
		return -1;
	case IC_RECV_DROP:
		ic_request_unget(req);
		return -2;
	case IC_RECV_NONE:
	default:
		ic_request_unget(req);
		return -1;
	}
	ic_request_begin(req, src, conf, &a->stats);
	cpu = sched_getcpu();
	q = (cpu < 0 ? a->idx : (unsigned)cpu) % topo->n;
	/* Run-to-completion when nothing waits on this CPU: a hand-off would only add a wake-up
	 * (about 2.7 us here) for the same CPU to do the same work. */
	if (conf->server.inline_fast && src->ops->in_place && ic_request_fast(req) && cpu >= 0 &&
	    ic_queue_depth(topo->queues[q]) == 0) {
		ic_request_serve(req, conf, &a->stats, NULL);
		return -1;
	}
	/* Read before the request leaves our hands. */
	cap = src->ops->pausable && req->policy ? req->policy->inflight_max : 0;
	r = ic_request_queue(req, topo, q, conf, &a->stats);
	if (cap && (unsigned)__atomic_load_n(&src->ct->inflight, __ATOMIC_ACQUIRE) >= cap)
		pause_source(a, src);
	return r;
}

static void *acceptor_main(void *arg)
{
	struct ic_acceptor *a = arg;
	struct epoll_event evs[BATCH];

	rcu_register_thread();
	while (!__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE)) {
		/* Paused sources are looked at again every millisecond. */
		int n = epoll_wait(a->epfd, evs, BATCH, cds_list_empty(&a->paused) ? -1 : 1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error_errno(errno, "acceptor %u: epoll_wait: %m", a->idx);
			break;
		}

		rcu_read_lock();
		struct ic_topology *topo = IC_LIVE_GET(a->live->topo);
		struct ic_conf *conf = IC_LIVE_GET(a->live->conf);
		uint64_t woke = 0; /* bitmap of queues to wake, first 64 */
		bool inbox = false;

		for (int i = 0; i < n; i++) {
			struct ic_source *src = evs[i].data.ptr;
			int q;

			if (!src) {
				uint64_t v;

				if (read(a->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					log_warn_errno(errno, "acceptor %u: eventfd: %m", a->idx);
				inbox = true;
				continue;
			}
			if (!(evs[i].events & EPOLLIN)) {
				/* A listener no task uses any more, or a monitor that went away. */
				log_debug("%s: hung up", ic_source_name(src));
				forget(a, src);
				ic_source_put(src);
				continue;
			}
			q = receive(a, src, topo, conf);
			if (q == -2) {
				forget(a, src);
				ic_source_put(src);
			} else if (q >= 0) {
				unsigned w = topo->wake[q];

				if (w < 64)
					woke |= 1ULL << w;
				else
					ic_queue_wake(topo->queues[w]);
			}
		}
		/* One wake per queue per batch, after the batch. */
		while (woke) {
			unsigned w = (unsigned)__builtin_ctzll(woke);

			woke &= woke - 1;
			ic_queue_wake(topo->queues[w]);
		}
		if (!cds_list_empty(&a->paused))
			resume_sources(a, conf);
		rcu_read_unlock();
		if (inbox)
			adopt_inbox(a);
	}
	rcu_unregister_thread();
	return NULL;
}

int ic_acceptor_start(struct ic_acceptor *a, int cpu)
{
	char name[16];
	int r;

	a->cpu = cpu;
	__atomic_store_n(&a->stop, 0, __ATOMIC_RELEASE);
	snprintf(name, sizeof(name), "ic-acceptor-%u", a->idx);
	r = ic_thread_start(&a->thread, acceptor_main, a, cpu, name);
	if (r < 0)
		return log_error_errno(r, "acceptor %u: cannot start: %m", a->idx);
	a->started = true;
	return 0;
}

void ic_acceptor_stop(struct ic_acceptor *a)
{
	uint64_t one = 1;

	if (!a->started)
		return;
	__atomic_store_n(&a->stop, 1, __ATOMIC_RELEASE);
	if (write(a->evfd, &one, sizeof(one)) < 0)
		log_warn_errno(errno, "acceptor %u: %m", a->idx);
	pthread_join(a->thread, NULL);
	a->started = false;
}

static void put_source(struct ic_source *src, void *data)
{
	(void)data;
	ic_source_put(src);
}

void ic_acceptor_fini(struct ic_acceptor *a)
{
	if (a->epfd <= 0)
		return;
	ic_acceptor_take_sources(a, put_source, NULL);
	ic_request_cache_fini(&a->cache);
	close(a->epfd);
	close(a->evfd);
	a->epfd = a->evfd = -1;
}
