/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/notify.h"
#include "common/proc.h"
#include "handlers/handlers.h"
#include "server/registry.h"
#include "server/server.h"

#define ACCEPTOR_BATCH	   64
#define ACCEPTOR_CACHE_MAX 4096

/* Acceptor thread only. Requests come from our own list, refilled from what workers gave back. */
static struct ic_request *request_get(struct ic_acceptor *a)
{
	struct ic_request *req = a->free_list;

	if (!req) {
		struct cds_lfs_head *head = __cds_lfs_pop_all(&a->returned);
		struct cds_lfs_node *node, *next;

		IC_LFS_FOR_EACH_SAFE(head, node, next)
		{
			struct ic_request *r = caa_container_of(node, struct ic_request, fnode);

			/* Keep a bounded cache: a burst's worth goes back to the allocator. */
			if (a->n_free >= ACCEPTOR_CACHE_MAX) {
				free(r);
				continue;
			}
			r->next_free = a->free_list;
			a->free_list = r;
			a->n_free++;
		}
		req = a->free_list;
	}
	if (req) {
		a->free_list = req->next_free;
		a->n_free--;
		return req;
	}
	req = malloc(sizeof(*req));
	if (req)
		req->origin = a;
	return req;
}

/* Any thread: the request goes back to the cache of the acceptor that made it. */
void ic_request_release(struct ic_request *req)
{
	ic_listener_put(req->listener);
	req->listener = NULL;
	cds_lfs_node_init(&req->fnode);
	cds_lfs_push(&req->origin->returned, &req->fnode);
}

/* Any thread: hand l to acceptor a, which adds it to its epoll set on its next wake. */
void ic_acceptor_hand_over(struct ic_acceptor *a, struct ic_listener *l)
{
	uint64_t one = 1;

	cds_lfs_node_init(&l->inbox);
	cds_lfs_push(&a->inbox, &l->inbox);
	if (write(a->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_error_errno(errno, "acceptor %u: cannot signal: %m", a->idx);
}

static void adopt_inbox(struct ic_acceptor *a)
{
	struct cds_lfs_head *head = __cds_lfs_pop_all(&a->inbox);
	struct cds_lfs_node *node, *next;

	IC_LFS_FOR_EACH_SAFE(head, node, next)
	{
		struct ic_listener *l = caa_container_of(node, struct ic_listener, inbox);
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};

		l->owner = a;
		if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, l->fd, &ev) < 0) {
			log_error_errno(errno, "acceptor %u: cannot watch listener of %s: %m",
					a->idx, l->ct->info.id);
			__atomic_sub_fetch(&a->n_listeners, 1, __ATOMIC_RELAXED);
			ic_listener_put(l);
			continue;
		}
		cds_list_add(&l->link, &a->listeners);
	}
}

static void listener_drop(struct ic_acceptor *a, struct ic_listener *l)
{
	epoll_ctl(a->epfd, EPOLL_CTL_DEL, l->fd, NULL);
	cds_list_del(&l->link);
	__atomic_sub_fetch(&a->n_listeners, 1, __ATOMIC_RELAXED);
	ic_listener_put(l);
}

/* Retiring: every listener goes to the least-loaded acceptor that stays. */
static void hand_over_all(struct ic_acceptor *a)
{
	struct ic_listener *l, *tmp;

	adopt_inbox(a);
	cds_list_for_each_entry_safe (l, tmp, &a->listeners, link) {
		unsigned n = __atomic_load_n(&ic_srv.n_acceptors, __ATOMIC_ACQUIRE), best = 0;
		int best_load = INT32_MAX;

		for (unsigned i = 0; i < n && i < IC_ACCEPTORS_MAX; i++) {
			int load =
			    __atomic_load_n(&ic_srv.acceptors[i].n_listeners, __ATOMIC_RELAXED);

			if (i != a->idx && load < best_load) {
				best = i;
				best_load = load;
			}
		}
		epoll_ctl(a->epfd, EPOLL_CTL_DEL, l->fd, NULL);
		cds_list_del(&l->link);
		__atomic_sub_fetch(&a->n_listeners, 1, __ATOMIC_RELAXED);
		if (best_load == INT32_MAX) {
			ic_listener_put(l); /* nobody left: only on shutdown */
			continue;
		}
		__atomic_add_fetch(&ic_srv.acceptors[best].n_listeners, 1, __ATOMIC_RELAXED);
		ic_acceptor_hand_over(&ic_srv.acceptors[best], l);
	}
}

#define ACCEPT_DROP (-2)

/* Acceptor thread. RECV one notification from l and queue it on this CPU's queue. Returns the
 * queue index that went from empty to non-empty, -1, or ACCEPT_DROP when l is broken. */
static int accept_one(struct ic_acceptor *a, struct ic_listener *l, struct ic_topology *topo,
		      const struct ic_conf *conf)
{
	struct ic_request *req = request_get(a);
	unsigned q;
	int cpu, r;

	if (!req) {
		log_error("acceptor %u: out of memory for a request", a->idx);
		return -1;
	}
	r = ic_notif_recv(l->fd, &req->notif);
	if (r < 0) {
		req->next_free = a->free_list;
		a->free_list = req;
		a->n_free++;
		if (r == -ENOENT || r == -EINTR) {
			IC_COUNTER_ADD(a->stats.recv_gone, 1);
			return -1;
		}
		/* Anything else would repeat on every readiness of a level-triggered fd. */
		log_warn_errno(r, "container %s: NOTIF_RECV: %s; dropping this listener",
			       l->ct->info.id, strerror(-r));
		return ACCEPT_DROP;
	}
	IC_COUNTER_ADD(a->stats.received, 1);
	req->t_recv_ns = ic_now_ns();
	req->deadline_ns = req->t_recv_ns + (uint64_t)conf->server.deadline_ms * 1000000ULL;
	req->listener = l;
	req->claimed = 0;
	ic_listener_ref(l);
	__atomic_add_fetch(&l->ct->requests, 1, __ATOMIC_RELAXED);

	cpu = sched_getcpu();
	q = (cpu < 0 ? a->idx : (unsigned)cpu) % topo->n;
	r = ic_queue_push(topo->queues[q], &req->qnode, topo->capacity);
	if (r == -ENOSPC) {
		IC_COUNTER_ADD(a->stats.queue_full, 1);
		req->claimed = 1;
		ic_request_fail(&a->stats, req, conf);
		ic_request_release(req);
		return -1;
	}
	/* Backlog: a sleeping worker elsewhere may steal (the wake costs nothing when none
	 * sleeps). The empty -> non-empty wake is batched by our caller. */
	if (r == 0 && ic_queue_depth(topo->queues[q]) > 1)
		ic_server_wake_idle(topo->wake[q]);
	return r == 1 ? (int)q : -1;
}

void *ic_acceptor_main(void *arg)
{
	struct ic_acceptor *a = arg;
	struct epoll_event evs[ACCEPTOR_BATCH];

	rcu_register_thread();
	for (;;) {
		int stop = __atomic_load_n(&a->stop, __ATOMIC_ACQUIRE);
		int n;

		if (stop == 1) {
			hand_over_all(a);
			break;
		}
		if (stop == 2)
			break;
		n = epoll_wait(a->epfd, evs, ACCEPTOR_BATCH, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error_errno(errno, "acceptor %u: epoll_wait: %m", a->idx);
			break;
		}

		rcu_read_lock();
		struct ic_topology *topo = rcu_dereference(ic_srv.topo);
		struct ic_conf *conf = rcu_dereference(ic_srv.conf);
		uint64_t woke = 0; /* bitmap of queues to wake, first 64 */
		bool inbox = false;

		for (int i = 0; i < n; i++) {
			struct ic_listener *l = evs[i].data.ptr;

			if (!l) {
				uint64_t v;

				if (read(a->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					log_warn_errno(errno, "acceptor %u: eventfd: %m", a->idx);
				inbox = true;
				continue;
			}
			if (evs[i].events & EPOLLIN) {
				int q = accept_one(a, l, topo, conf);

				if (q == ACCEPT_DROP) {
					listener_drop(a, l);
				} else if (q >= 0) {
					unsigned w = topo->wake[q];

					if (w < 64)
						woke |= 1ULL << w;
					else
						ic_queue_wake(topo->queues[w]);
				}
			} else if (evs[i].events & (EPOLLHUP | EPOLLERR)) {
				/* No task uses the filter any more. */
				log_debug("container %s: listener hung up", l->ct->info.id);
				listener_drop(a, l);
			}
		}
		/* One wake per queue per batch, after the batch. */
		while (woke) {
			unsigned w = (unsigned)__builtin_ctzll(woke);

			woke &= woke - 1;
			ic_queue_wake(topo->queues[w]);
		}
		rcu_read_unlock();
		if (inbox)
			adopt_inbox(a);
	}
	rcu_unregister_thread();
	return NULL;
}
