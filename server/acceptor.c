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
#include "server/lxc.h"
#include "server/registry.h"
#include "server/server.h"

#define ACCEPTOR_BATCH	   64
#define ACCEPTOR_CACHE_MAX 4096

/* Acceptor thread only. Requests come from our own list, refilled from what workers gave back. */
struct ic_request *ic_request_get(struct ic_acceptor *a)
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
	} else {
		req = malloc(sizeof(*req));
		if (!req)
			return NULL;
		req->origin = a;
	}
	req->listener = NULL;
	req->lxc = NULL;
	req->ct = NULL;
	for (int i = 0; i < 3; i++)
		req->lxc_fds[i] = -1;
	return req;
}

/* Acceptor thread: a request that never made it into a queue. */
void ic_request_unget(struct ic_acceptor *a, struct ic_request *req)
{
	req->next_free = a->free_list;
	a->free_list = req;
	a->n_free++;
}

/* Any thread: the request goes back to the cache of the acceptor that made it. */
void ic_request_release(struct ic_request *req)
{
	/* Before the reference that may be the container's last goes. */
	__atomic_sub_fetch(&req->ct->inflight, 1, __ATOMIC_RELEASE);
	if (req->kind == IC_SOURCE_LISTENER) {
		ic_listener_put(req->listener);
		req->listener = NULL;
	} else {
		for (int i = 0; i < 3; i++)
			if (req->lxc_fds[i] >= 0)
				close(req->lxc_fds[i]);
		ic_lxc_conn_put(req->lxc);
		req->lxc = NULL;
	}
	cds_lfs_node_init(&req->fnode);
	cds_lfs_push(&req->origin->returned, &req->fnode);
}

void ic_source_put(struct ic_source *src)
{
	if (src->kind == IC_SOURCE_LISTENER)
		ic_listener_put(ic_listener_of(src));
	else
		ic_lxc_conn_put(ic_lxc_conn_of(src));
}

static const char *source_name(struct ic_source *src)
{
	if (src->kind == IC_SOURCE_LISTENER)
		return ic_listener_of(src)->ct->info.id;
	return ic_lxc_conn_of(src)->peer;
}

/* Any thread: hand src to acceptor a, which adds it to its epoll set on its next wake. */
void ic_acceptor_hand_over(struct ic_acceptor *a, struct ic_source *src)
{
	uint64_t one = 1;

	cds_lfs_node_init(&src->inbox);
	cds_lfs_push(&a->inbox, &src->inbox);
	if (write(a->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_error_errno(errno, "acceptor %u: cannot signal: %m", a->idx);
}

static void adopt_inbox(struct ic_acceptor *a)
{
	struct cds_lfs_head *head = __cds_lfs_pop_all(&a->inbox);
	struct cds_lfs_node *node, *next;

	IC_LFS_FOR_EACH_SAFE(head, node, next)
	{
		struct ic_source *src = caa_container_of(node, struct ic_source, inbox);
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = src};

		src->owner = a;
		if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, src->fd, &ev) < 0) {
			log_error_errno(errno, "acceptor %u: cannot watch %s: %m", a->idx,
					source_name(src));
			__atomic_sub_fetch(&a->n_sources, 1, __ATOMIC_RELAXED);
			ic_source_put(src);
			continue;
		}
		cds_list_add(&src->link, &a->sources);
	}
}

/* Fairness (doc/design.md §6): a container with inflight.max requests in the house gets no
 * more read from its listeners until some are answered; the queues stay open to everyone else. */
static unsigned container_cap(const struct ic_conf *conf, const struct ic_container *ct)
{
	const struct ic_policy *p = ic_server_policy_of(conf, ct);

	return p ? p->inflight_max : 0;
}

static void listener_pause(struct ic_acceptor *a, struct ic_listener *l)
{
	struct epoll_event ev = {.events = 0, .data.ptr = &l->src};

	if (l->paused || a->n_paused >= IC_PAUSED_MAX)
		return;
	if (epoll_ctl(a->epfd, EPOLL_CTL_MOD, l->src.fd, &ev) < 0)
		return;
	l->paused = true;
	a->paused[a->n_paused++] = l;
}

static void listener_unpause_at(struct ic_acceptor *a, unsigned i, bool rearm)
{
	struct ic_listener *l = a->paused[i];
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &l->src};

	if (rearm)
		epoll_ctl(a->epfd, EPOLL_CTL_MOD, l->src.fd, &ev);
	l->paused = false;
	a->paused[i] = a->paused[--a->n_paused];
}

/* Acceptor thread, each round while some are paused: those back under their cap listen again. */
static void listeners_resume(struct ic_acceptor *a, const struct ic_conf *conf)
{
	for (unsigned i = 0; i < a->n_paused;) {
		struct ic_container *ct = a->paused[i]->ct;
		unsigned cap = container_cap(conf, ct);

		if (!cap || (unsigned)__atomic_load_n(&ct->inflight, __ATOMIC_ACQUIRE) < cap)
			listener_unpause_at(a, i, true);
		else
			i++;
	}
}

static void source_forget_pause(struct ic_acceptor *a, struct ic_source *src)
{
	for (unsigned i = 0; src->kind == IC_SOURCE_LISTENER && i < a->n_paused; i++)
		if (&a->paused[i]->src == src) {
			listener_unpause_at(a, i, false);
			return;
		}
}

static void source_drop(struct ic_acceptor *a, struct ic_source *src)
{
	source_forget_pause(a, src);
	epoll_ctl(a->epfd, EPOLL_CTL_DEL, src->fd, NULL);
	cds_list_del(&src->link);
	__atomic_sub_fetch(&a->n_sources, 1, __ATOMIC_RELAXED);
	ic_source_put(src);
}

/* Retiring: every source goes to the least-loaded acceptor that stays. */
static void hand_over_all(struct ic_acceptor *a)
{
	struct ic_source *src, *tmp;

	adopt_inbox(a);
	cds_list_for_each_entry_safe (src, tmp, &a->sources, link) {
		unsigned n = __atomic_load_n(&ic_srv.n_acceptors, __ATOMIC_ACQUIRE), best = 0;
		int best_load = INT32_MAX;

		for (unsigned i = 0; i < n && i < IC_ACCEPTORS_MAX; i++) {
			int load =
			    __atomic_load_n(&ic_srv.acceptors[i].n_sources, __ATOMIC_RELAXED);

			if (i != a->idx && load < best_load) {
				best = i;
				best_load = load;
			}
		}
		/* The new owner adds it listening; any pause ends here. */
		source_forget_pause(a, src);
		epoll_ctl(a->epfd, EPOLL_CTL_DEL, src->fd, NULL);
		cds_list_del(&src->link);
		__atomic_sub_fetch(&a->n_sources, 1, __ATOMIC_RELAXED);
		if (best_load == INT32_MAX) {
			ic_source_put(src); /* nobody left: only on shutdown */
			continue;
		}
		__atomic_add_fetch(&ic_srv.acceptors[best].n_sources, 1, __ATOMIC_RELAXED);
		ic_acceptor_hand_over(&ic_srv.acceptors[best], src);
	}
}

/* Acceptor thread: a request's clock starts when we received it. */
static void request_begin(struct ic_acceptor *a, struct ic_request *req, const struct ic_conf *conf)
{
	IC_COUNTER_ADD(a->stats.received, 1);
	req->t_recv_ns = ic_now_ns();
	req->deadline_ns = req->t_recv_ns + (uint64_t)conf->server.deadline_ms * 1000000ULL;
	req->state = IC_REQ_QUEUED;
	req->timed_out = false;
	__atomic_add_fetch(&req->ct->requests, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&req->ct->inflight, 1, __ATOMIC_ACQUIRE);
}

int ic_request_queue(struct ic_acceptor *a, struct ic_request *req, struct ic_topology *topo,
		     const struct ic_conf *conf)
{
	unsigned q;
	int cpu, r;

	request_begin(a, req, conf);
	cpu = sched_getcpu();
	q = (cpu < 0 ? a->idx : (unsigned)cpu) % topo->n;
	r = ic_queue_push(topo->queues[q], &req->qnode, topo->capacity);
	if (r == -ENOSPC) {
		IC_COUNTER_ADD(a->stats.queue_full, 1);
		req->state = IC_REQ_DONE;
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

/* Handlers quick enough to run on the acceptor without holding up its other listeners: they
 * neither block nor fork. */
static bool fast_handler(enum ic_sys sys)
{
	return sys == IC_SYS_SYSINFO || sys == IC_SYS_UNKNOWN;
}

/* Run-to-completion when nothing waits on this CPU: a hand-off would only add a wake-up (about
 * 2.7 us here) for the same CPU to do the same work. */
static bool serve_here(struct ic_topology *topo, const struct ic_request *req)
{
	int cpu = sched_getcpu();

	return fast_handler(ic_sys_lookup(req->notif.data.arch, req->notif.data.nr, NULL)) &&
	       cpu >= 0 && ic_queue_depth(topo->queues[(unsigned)cpu % topo->n]) == 0;
}

/* Acceptor thread. RECV one notification from l and queue it. */
static int listener_receive(struct ic_acceptor *a, struct ic_listener *l, struct ic_topology *topo,
			    const struct ic_conf *conf)
{
	struct ic_request *req = ic_request_get(a);
	unsigned cap;
	int r;

	if (!req) {
		log_error("acceptor %u: out of memory for a request", a->idx);
		return -1;
	}
	r = ic_notif_recv(l->src.fd, &req->notif);
	if (r < 0) {
		ic_request_unget(a, req);
		if (r == -ENOENT || r == -EINTR) {
			IC_COUNTER_ADD(a->stats.recv_gone, 1);
			return -1;
		}
		/* Anything else would repeat on every readiness of a level-triggered fd. */
		log_warn_errno(r, "container %s: NOTIF_RECV: %s; dropping this listener",
			       l->ct->info.id, strerror(-r));
		return IC_ACCEPT_DROP;
	}
	req->kind = IC_SOURCE_LISTENER;
	req->listener = l;
	req->ct = l->ct;
	ic_listener_ref(l);
	if (conf->server.inline_fast && serve_here(topo, req)) {
		request_begin(a, req, conf);
		ic_request_serve_inline(&a->stats, conf, req);
		return -1;
	}
	r = ic_request_queue(a, req, topo, conf);
	cap = container_cap(conf, l->ct);
	if (cap && (unsigned)__atomic_load_n(&l->ct->inflight, __ATOMIC_ACQUIRE) >= cap)
		listener_pause(a, l);
	return r;
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
		/* Paused listeners are looked at again every millisecond. */
		n = epoll_wait(a->epfd, evs, ACCEPTOR_BATCH, a->n_paused ? 1 : -1);
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
				log_debug("%s: hung up", source_name(src));
				source_drop(a, src);
				continue;
			}
			q = src->kind == IC_SOURCE_LISTENER
				? listener_receive(a, ic_listener_of(src), topo, conf)
				: ic_lxc_receive(a, ic_lxc_conn_of(src), topo, conf);
			if (q == IC_ACCEPT_DROP) {
				source_drop(a, src);
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
		if (a->n_paused)
			listeners_resume(a, conf);
		rcu_read_unlock();
		if (inbox)
			adopt_inbox(a);
	}
	rcu_unregister_thread();
	return NULL;
}
