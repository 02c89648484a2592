/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proc.h"
#include "server/lxc.h"
#include "server/registry.h"
#include "server/server.h"

struct ic_server ic_srv = {.reload_lock = PTHREAD_MUTEX_INITIALIZER};

static void pin(pthread_t t, int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* Best effort: a cpuset may forbid it, and the thread then runs where it may. */
	(void)pthread_setaffinity_np(t, sizeof(set), &set);
}

static void topology_free(void *p)
{
	struct ic_topology *t = p;

	free(t->queues);
	free(t->wake);
	free(t);
}

static struct ic_topology *topology_new(const struct ic_conf *conf, unsigned n_workers)
{
	struct ic_topology *t = calloc(1, sizeof(*t));
	unsigned n = ic_srv.ncpu;

	if (!t)
		return NULL;
	t->n = n;
	t->capacity = conf->server.queue_capacity;
	t->queues = calloc(n, sizeof(*t->queues));
	t->wake = calloc(n, sizeof(*t->wake));
	if (!t->queues || !t->wake) {
		topology_free(t);
		return NULL;
	}
	for (unsigned q = 0; q < n; q++) {
		t->queues[q] = &ic_srv.queues[q];
		/* A queue with a home worker wakes it; otherwise one of the queues that has one. */
		t->wake[q] = q < n_workers ? q : q % (n_workers ? n_workers : 1);
	}
	return t;
}

/* Run release(p) once no RCU reader can still see p. Any RCU-registered thread. */
struct rcu_box {
	struct rcu_head rcu;
	void *p;
	void (*release)(void *p);
};

static void rcu_box_run(struct rcu_head *head)
{
	struct rcu_box *b = caa_container_of(head, struct rcu_box, rcu);

	b->release(b->p);
	free(b);
}

static void release_after_grace_period(void *p, void (*release)(void *p))
{
	struct rcu_box *b;

	if (!p)
		return;
	b = malloc(sizeof(*b));
	if (!b) {
		/* Rare: wait for the readers instead of deferring. */
		synchronize_rcu();
		release(p);
		return;
	}
	b->p = p;
	b->release = release;
	call_rcu(&b->rcu, rcu_box_run);
}

static void topology_retire(struct ic_topology *old)
{
	release_after_grace_period(old, topology_free);
}

void ic_server_conf_ref(struct ic_conf *conf)
{
	__atomic_add_fetch(&conf->refs, 1, __ATOMIC_RELAXED);
}

void ic_server_conf_put(struct ic_conf *conf)
{
	if (conf && __atomic_sub_fetch(&conf->refs, 1, __ATOMIC_ACQ_REL) == 0)
		ic_conf_free(conf);
}

static void conf_put_void(void *conf)
{
	ic_server_conf_put(conf);
}

/* Drop the published reference once no read section can still take a new one. */
static void conf_retire(struct ic_conf *old)
{
	release_after_grace_period(old, conf_put_void);
}

void ic_server_wake_idle(unsigned except)
{
	for (unsigned q = 0; q < ic_srv.ncpu; q++) {
		struct ic_queue *queue = &ic_srv.queues[q];

		if (q != except && __atomic_load_n(&queue->sleepers, __ATOMIC_RELAXED)) {
			ic_queue_wake(queue);
			return;
		}
	}
}

/* Main thread. Requests past their deadline get the failure answer here: those still queued
 * (every worker busy) and those whose handler is slow but has not begun its side effect. The
 * worker that dequeues or finishes them later just lets go. */
void ic_server_sweep(void)
{
	uint64_t now = ic_now_ns();
	struct ic_conf *conf;

	rcu_read_lock();
	conf = rcu_dereference(ic_srv.conf);
	for (unsigned q = 0; q < ic_srv.ncpu; q++) {
		struct ic_queue *queue = &ic_srv.queues[q];
		struct cds_wfcq_node *node;

		if (ic_queue_depth(queue) == 0)
			continue;
		/* Excludes dequeuers (workers) while we walk; producers may still append. */
		cds_wfcq_dequeue_lock(&queue->head, &queue->tail);
		__cds_wfcq_for_each_blocking(&queue->head, &queue->tail, node)
		{
			struct ic_request *req = caa_container_of(node, struct ic_request, qnode);

			/* FIFO per producer only, so look at all of them. */
			if (now > req->deadline_ns &&
			    ic_request_move(req, IC_REQ_QUEUED, IC_REQ_DONE)) {
				IC_COUNTER_ADD(ic_srv.sweeper.deadline_missed, 1);
				ic_request_fail(&ic_srv.sweeper, req, conf);
			}
		}
		cds_wfcq_dequeue_unlock(&queue->head, &queue->tail);
	}
	for (unsigned i = 0; i < IC_WORKERS_MAX; i++) {
		struct ic_worker *w = __atomic_load_n(&ic_srv.workers[i], __ATOMIC_ACQUIRE);
		struct ic_request *req;

		if (!w)
			continue;
		/* The lock keeps the worker from releasing cur while we answer it. */
		pthread_mutex_lock(&w->cur_lock);
		req = w->cur;
		if (req && now > req->deadline_ns &&
		    ic_request_move(req, IC_REQ_SERVING, IC_REQ_DONE)) {
			IC_COUNTER_ADD(ic_srv.sweeper.deadline_missed, 1);
			ic_request_fail(&ic_srv.sweeper, req, conf);
		}
		pthread_mutex_unlock(&w->cur_lock);
	}
	rcu_read_unlock();
}

static int acceptor_start(unsigned i, int cpu)
{
	struct ic_acceptor *a = &ic_srv.acceptors[i];
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	char name[16];
	int r;

	if (a->epfd <= 0) {
		a->idx = i;
		a->epfd = epoll_create1(EPOLL_CLOEXEC);
		a->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (a->epfd < 0 || a->evfd < 0)
			return log_error_errno(errno, "acceptor %u: %m", i);
		if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->evfd, &ev) < 0)
			return log_error_errno(errno, "acceptor %u: %m", i);
		cds_lfs_init(&a->inbox);
		cds_lfs_init(&a->returned);
		CDS_INIT_LIST_HEAD(&a->sources);
	}
	a->cpu = cpu;
	__atomic_store_n(&a->stop, 0, __ATOMIC_RELEASE);
	r = pthread_create(&a->thread, NULL, ic_acceptor_main, a);
	if (r)
		return log_error_errno(r, "acceptor %u: cannot start: %s", i, strerror(r));
	pin(a->thread, cpu);
	snprintf(name, sizeof(name), "ic-acceptor-%u", i);
	pthread_setname_np(a->thread, name);
	a->started = true;
	return 0;
}

static void acceptor_stop(struct ic_acceptor *a, int how)
{
	uint64_t one = 1;

	if (!a->started)
		return;
	__atomic_store_n(&a->stop, how, __ATOMIC_RELEASE);
	if (write(a->evfd, &one, sizeof(one)) < 0)
		log_warn_errno(errno, "acceptor %u: %m", a->idx);
	pthread_join(a->thread, NULL);
	a->started = false;
}

static int worker_start(unsigned i, int cpu)
{
	struct ic_worker *w = ic_srv.workers[i];
	char name[16];
	int r;

	if (!w) {
		w = aligned_alloc(IC_CACHELINE,
				  (sizeof(*w) + IC_CACHELINE - 1) & ~(size_t)(IC_CACHELINE - 1));
		if (!w)
			return log_error_errno(ENOMEM, "worker %u: out of memory", i);
		memset(w, 0, sizeof(*w));
		w->idx = i;
		pthread_mutex_init(&w->cur_lock, NULL);
		ic_srv.workers[i] = w;
	}
	w->home = i % ic_srv.ncpu;
	w->cpu = cpu;
	__atomic_store_n(&w->stop, 0, __ATOMIC_RELEASE);
	r = pthread_create(&w->thread, NULL, ic_worker_main, w);
	if (r)
		return log_error_errno(r, "worker %u: cannot start: %s", i, strerror(r));
	pin(w->thread, cpu);
	snprintf(name, sizeof(name), "ic-worker-%u", i);
	pthread_setname_np(w->thread, name);
	w->started = true;
	return 0;
}

static void wake_all_workers(void)
{
	for (unsigned q = 0; q < ic_srv.ncpu; q++) {
		struct ic_queue *queue = &ic_srv.queues[q];

		/* Unconditional: a sleeper may be about to wait on an old value. */
		__atomic_add_fetch(&queue->futex, 1, __ATOMIC_SEQ_CST);
		ic_queue_wake(queue);
		ic_queue_wake(queue);
	}
}

static void workers_stop(unsigned from, unsigned to, int how)
{
	for (unsigned i = from; i < to; i++)
		if (ic_srv.workers[i] && ic_srv.workers[i]->started)
			__atomic_store_n(&ic_srv.workers[i]->stop, how, __ATOMIC_RELEASE);
	for (unsigned i = from; i < to; i++) {
		struct ic_worker *w = ic_srv.workers[i];

		if (!w || !w->started)
			continue;
		/* Sleepers give up after WORKER_IDLE_MS anyway; this makes it prompt. */
		wake_all_workers();
		pthread_join(w->thread, NULL);
		w->started = false;
	}
}

int ic_server_apply(const struct ic_conf *conf)
{
	unsigned na = ic_conf_effective_threads(conf->server.acceptors, ic_srv.ncpu);
	unsigned nw = ic_conf_effective_threads(conf->server.workers, ic_srv.ncpu);
	struct ic_topology *topo = topology_new(conf, nw), *old;
	int r, ret = 0;

	if (!topo)
		return log_error_errno(ENOMEM, "out of memory for the queue topology");
	/* Publish first: a worker's first look at the queues must find them. */
	old = rcu_xchg_pointer(&ic_srv.topo, topo);
	topology_retire(old);
	for (unsigned i = ic_srv.n_workers; i < nw; i++) {
		r = worker_start(i, (int)(i % ic_srv.ncpu));
		if (r < 0) {
			/* Wake mapping for the workers that did start; sleepers time out meanwhile.
			 */
			ret = r;
			nw = i;
			topo = topology_new(conf, nw);
			if (topo)
				topology_retire(rcu_xchg_pointer(&ic_srv.topo, topo));
			break;
		}
	}
	if (nw < ic_srv.n_workers) {
		/* Acceptors must wake by the new mapping before the retiring workers go; what they
		 * hold they finish, what is queued is stolen by those that stay. */
		synchronize_rcu();
		workers_stop(nw, ic_srv.n_workers, 1);
		wake_all_workers();
	}
	__atomic_store_n(&ic_srv.n_workers, nw, __ATOMIC_RELEASE);

	if (na > ic_srv.n_acceptors) {
		for (unsigned i = ic_srv.n_acceptors; i < na; i++) {
			r = acceptor_start(i, (int)(i % ic_srv.ncpu));
			if (r < 0) {
				ret = r;
				na = i;
				break;
			}
		}
		__atomic_store_n(&ic_srv.n_acceptors, na, __ATOMIC_RELEASE);
	} else if (na < ic_srv.n_acceptors) {
		unsigned old_n = ic_srv.n_acceptors;

		/* Retiring acceptors hand their listeners to the first na. */
		__atomic_store_n(&ic_srv.n_acceptors, na, __ATOMIC_RELEASE);
		for (unsigned i = na; i < old_n; i++)
			acceptor_stop(&ic_srv.acceptors[i], 1);
	}
	log_info("threads: %u acceptors, %u workers, %u queues of %llu", na, nw, ic_srv.ncpu,
		 (unsigned long long)conf->server.queue_capacity);
	if (ret == 0 && (na == 0 || nw == 0))
		ret = -EAGAIN;
	return ret;
}

int ic_server_init(struct ic_conf *conf)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	int r;

	ic_srv.ncpu = n > 0 ? (unsigned)n : 1;
	ic_srv.started_ns = ic_now_ns();
	ic_srv.queues = calloc(ic_srv.ncpu, sizeof(*ic_srv.queues));
	if (!ic_srv.queues)
		return -ENOMEM;
	for (unsigned q = 0; q < ic_srv.ncpu; q++)
		ic_queue_init(&ic_srv.queues[q]);
	r = ic_registry_init();
	if (r < 0)
		return r;
	/* liburcu starts its call_rcu thread lazily, from the first caller: let that be us, not a
	 * worker standing in a container's root at the time. */
	if (!get_default_call_rcu_data())
		return -ENOMEM;
	rcu_assign_pointer(ic_srv.conf, conf);
	pthread_mutex_lock(&ic_srv.reload_lock);
	r = ic_server_apply(conf);
	pthread_mutex_unlock(&ic_srv.reload_lock);
	return r;
}

int ic_server_reload(char *err, size_t errlen)
{
	const char *path = ic_srv.conf_path;
	char cerr[IC_CONF_ERR_MAX];
	struct ic_conf *conf, *old;
	int r;

	r = ic_conf_load(path, ic_srv.conf_must_exist, &conf, cerr);
	if (r < 0) {
		snprintf(err, errlen, "%s", cerr);
		return log_error_errno(r, "reload refused, keeping the running configuration: %s",
				       cerr);
	}
	pthread_mutex_lock(&ic_srv.reload_lock);
	old = rcu_xchg_pointer(&ic_srv.conf, conf);
	ic_log_set_level(conf->server.log_level);
	ic_log_set_target(conf->server.log_target);
	r = ic_server_apply(conf);
	__atomic_add_fetch(&ic_srv.reloads, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&ic_srv.reload_lock);
	/* Workers still serving with the old snapshot hold references to it. */
	conf_retire(old);
	if (r < 0)
		snprintf(err, errlen, "configuration loaded, but threads could not all start");
	else
		log_info("reloaded %s", path ? path : "(defaults)");
	return r;
}

int ic_server_adopt(struct ic_source *src)
{
	unsigned best = 0, n;
	int best_load = -1;

	pthread_mutex_lock(&ic_srv.reload_lock);
	n = ic_srv.n_acceptors;
	for (unsigned i = 0; i < n; i++) {
		int load = __atomic_load_n(&ic_srv.acceptors[i].n_sources, __ATOMIC_RELAXED);

		if (best_load < 0 || load < best_load) {
			best = i;
			best_load = load;
		}
	}
	if (best_load < 0) {
		pthread_mutex_unlock(&ic_srv.reload_lock);
		return -EAGAIN; /* no acceptor runs: nobody would ever poll it */
	}
	__atomic_add_fetch(&ic_srv.acceptors[best].n_sources, 1, __ATOMIC_RELAXED);
	ic_acceptor_hand_over(&ic_srv.acceptors[best], src);
	pthread_mutex_unlock(&ic_srv.reload_lock);
	return 0;
}

void ic_server_drain(void)
{
	__atomic_store_n(&ic_srv.draining, 1, __ATOMIC_RELEASE);
	pthread_mutex_lock(&ic_srv.reload_lock);
	/* Stop taking notifications, then answer everything already queued. */
	for (unsigned i = 0; i < ic_srv.n_acceptors; i++)
		acceptor_stop(&ic_srv.acceptors[i], 2);
	workers_stop(0, ic_srv.n_workers, 2);
	pthread_mutex_unlock(&ic_srv.reload_lock);
}

void ic_server_stats(struct ic_stats *out)
{
	memset(out, 0, sizeof(*out));
	ic_stats_merge(out, &ic_srv.sweeper);
	for (unsigned i = 0; i < IC_ACCEPTORS_MAX; i++)
		ic_stats_merge(out, &ic_srv.acceptors[i].stats);
	for (unsigned i = 0; i < IC_WORKERS_MAX; i++) {
		struct ic_worker *w = __atomic_load_n(&ic_srv.workers[i], __ATOMIC_ACQUIRE);

		if (w)
			ic_stats_merge(out, &w->stats);
	}
}

static void drop_sources(struct ic_acceptor *a)
{
	struct ic_source *src, *tmp;
	struct cds_lfs_head *head;
	struct cds_lfs_node *node, *next;

	head = __cds_lfs_pop_all(&a->inbox);
	IC_LFS_FOR_EACH_SAFE(head, node, next)
	ic_source_put(caa_container_of(node, struct ic_source, inbox));
	cds_list_for_each_entry_safe (src, tmp, &a->sources, link) {
		cds_list_del(&src->link);
		ic_source_put(src);
	}
}

void ic_server_fini(void)
{
	for (unsigned i = 0; i < IC_ACCEPTORS_MAX; i++) {
		struct ic_acceptor *a = &ic_srv.acceptors[i];
		struct cds_lfs_head *head;
		struct cds_lfs_node *node, *next;

		if (a->epfd <= 0)
			continue;
		drop_sources(a);
		head = __cds_lfs_pop_all(&a->returned);
		IC_LFS_FOR_EACH_SAFE(head, node, next)
		free(caa_container_of(node, struct ic_request, fnode));
		while (a->free_list) {
			struct ic_request *r = a->free_list;

			a->free_list = r->next_free;
			free(r);
		}
		close(a->epfd);
		close(a->evfd);
	}
	for (unsigned i = 0; i < IC_WORKERS_MAX; i++) {
		if (!ic_srv.workers[i])
			continue;
		pthread_mutex_destroy(&ic_srv.workers[i]->cur_lock);
		free(ic_srv.workers[i]);
	}
	rcu_barrier();
	topology_retire(rcu_xchg_pointer(&ic_srv.topo, NULL));
	rcu_barrier();
	ic_registry_fini();
	for (unsigned q = 0; q < ic_srv.ncpu; q++)
		ic_queue_destroy(&ic_srv.queues[q]);
	free(ic_srv.queues);
	conf_retire(rcu_xchg_pointer(&ic_srv.conf, NULL));
	rcu_barrier();
}
