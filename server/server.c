/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/notify.h"
#include "common/proc.h"
#include "server/acceptor.h"
#include "server/journal.h"
#include "server/live.h"
#include "server/queue.h"
#include "server/registry.h"
#include "server/server.h"
#include "server/source.h"
#include "server/worker.h"

static struct {
	struct ic_live live; /* RCU: what the acceptors and workers read */
	unsigned ncpu;
	struct ic_queue *queues; /* ncpu of them, for the process's life */
	unsigned n_acceptors;	 /* atomic reads; written under reload_lock */
	unsigned n_workers;
	struct ic_acceptor acceptors[IC_ACCEPTORS_MAX];
	struct ic_worker *workers[IC_WORKERS_MAX];
	pthread_mutex_t reload_lock;
	uint64_t started_ns;
	uint64_t reloads;
	uint64_t generation;	 /* of the last configuration published; under reload_lock */
	struct ic_stats sweeper; /* the main thread's: past deadline, and recovered requests */
	struct ic_request_cache recovery; /* the main thread's, for what a dead server left */
	pid_t keeper;
	unsigned server_generation;
	const char *conf_path; /* what reload reads again */
	bool conf_must_exist;  /* -c given: a missing file is an error */
} srv = {.reload_lock = PTHREAD_MUTEX_INITIALIZER};

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
	unsigned n = srv.ncpu;

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
		t->queues[q] = &srv.queues[q];
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

	IC_RCU_CALLBACK_BEGIN(head);
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
		IC_RCU_GRACE_PASSED();
		release(p);
		return;
	}
	b->p = p;
	b->release = release;
	IC_HANDOFF_PUBLISH(&b->rcu);
	call_rcu(&b->rcu, rcu_box_run);
}

static void conf_unref_void(void *conf)
{
	ic_conf_unref(conf);
}

/* Publish a topology; the old one goes once no reader can see it. */
static void topology_publish(struct ic_topology *topo)
{
	release_after_grace_period(IC_LIVE_SWAP(srv.live.topo, topo), topology_free);
}

/* Publish a configuration; workers still serving with the old one hold references to it, and
 * the published reference goes once no read section can take a new one. Under reload_lock. */
static void conf_publish(struct ic_conf *conf)
{
	if (conf)
		conf->generation = ++srv.generation;
	release_after_grace_period(IC_LIVE_SWAP(srv.live.conf, conf), conf_unref_void);
}

struct ic_conf *ic_server_conf(void)
{
	return IC_LIVE_GET(srv.live.conf);
}

void ic_server_sweep(void)
{
	uint64_t now = ic_now_ns();
	struct ic_conf *conf;

	rcu_read_lock();
	conf = IC_LIVE_GET(srv.live.conf);
	for (unsigned q = 0; q < srv.ncpu; q++)
		ic_request_sweep_queue(&srv.queues[q], now, conf, &srv.sweeper);
	for (unsigned i = 0; i < IC_WORKERS_MAX; i++) {
		struct ic_worker *w = __atomic_load_n(&srv.workers[i], __ATOMIC_ACQUIRE);

		if (w)
			ic_request_sweep_serving(&w->serving, now, conf, &srv.sweeper);
	}
	rcu_read_unlock();
}

static int acceptor_start(unsigned i)
{
	struct ic_acceptor *a = &srv.acceptors[i];
	int r;

	if (!a->live) {
		r = ic_acceptor_init(a, i, &srv.live);
		if (r < 0)
			return r;
	}
	return ic_acceptor_start(a, (int)(i % srv.ncpu));
}

static int worker_start(unsigned i)
{
	struct ic_worker *w = srv.workers[i];

	if (!w) {
		w = ic_worker_new(i, &srv.live);
		if (!w)
			return log_error_errno(ENOMEM, "worker %u: out of memory", i);
		__atomic_store_n(&srv.workers[i], w, __ATOMIC_RELEASE);
	}
	return ic_worker_start(w, i % srv.ncpu, (int)(i % srv.ncpu));
}

static void wake_all_workers(void)
{
	for (unsigned q = 0; q < srv.ncpu; q++) {
		struct ic_queue *queue = &srv.queues[q];

		/* Unconditional: a sleeper may be about to wait on an old value. */
		__atomic_add_fetch(&queue->futex, 1, __ATOMIC_SEQ_CST);
		ic_queue_wake(queue);
		ic_queue_wake(queue);
	}
}

static void workers_stop(unsigned from, unsigned to, enum ic_worker_stop how)
{
	for (unsigned i = from; i < to; i++)
		if (srv.workers[i])
			ic_worker_request_stop(srv.workers[i], how);
	for (unsigned i = from; i < to; i++) {
		if (!srv.workers[i] || !srv.workers[i]->started)
			continue;
		/* Sleepers give up after their idle timeout anyway; this makes it prompt. */
		wake_all_workers();
		ic_worker_join(srv.workers[i]);
	}
}

/* The least-loaded of the first n acceptors, NULL when n is 0. Under reload_lock. */
static struct ic_acceptor *least_loaded(unsigned n)
{
	struct ic_acceptor *best = NULL;

	for (unsigned i = 0; i < n; i++)
		if (!best || ic_acceptor_load(&srv.acceptors[i]) < ic_acceptor_load(best))
			best = &srv.acceptors[i];
	return best;
}

/* A retiring acceptor's source goes to one that stays; when none does, only on shutdown, it
 * is let go. */
static void readopt(struct ic_source *src, void *data)
{
	struct ic_acceptor *a = least_loaded(*(unsigned *)data);

	if (a)
		ic_acceptor_give(a, src);
	else
		ic_source_put(src);
}

/* Start, stop and re-pin threads to match conf; publishes the topology. Under reload_lock. */
static int apply(const struct ic_conf *conf)
{
	unsigned na = ic_conf_effective_threads(conf->server.acceptors, srv.ncpu);
	unsigned nw = ic_conf_effective_threads(conf->server.workers, srv.ncpu);
	struct ic_topology *topo = topology_new(conf, nw);
	int r, ret = 0;

	if (!topo)
		return log_error_errno(ENOMEM, "out of memory for the queue topology");
	/* Publish first: a worker's first look at the queues must find them. */
	topology_publish(topo);
	for (unsigned i = srv.n_workers; i < nw; i++) {
		r = worker_start(i);
		if (r < 0) {
			/* Wake mapping for the workers that did start; sleepers time out meanwhile.
			 */
			ret = r;
			nw = i;
			topo = topology_new(conf, nw);
			if (topo)
				topology_publish(topo);
			break;
		}
	}
	if (nw < srv.n_workers) {
		/* Acceptors must wake by the new mapping before the retiring workers go; what they
		 * hold they finish, what is queued is stolen by those that stay. */
		synchronize_rcu();
		IC_RCU_GRACE_PASSED();
		workers_stop(nw, srv.n_workers, IC_WORKER_EXIT);
		wake_all_workers();
	}
	__atomic_store_n(&srv.n_workers, nw, __ATOMIC_RELEASE);

	if (na > srv.n_acceptors) {
		for (unsigned i = srv.n_acceptors; i < na; i++) {
			r = acceptor_start(i);
			if (r < 0) {
				ret = r;
				na = i;
				break;
			}
		}
		__atomic_store_n(&srv.n_acceptors, na, __ATOMIC_RELEASE);
	} else if (na < srv.n_acceptors) {
		unsigned old_n = srv.n_acceptors;

		/* Retiring acceptors hand their sources to the first na. */
		__atomic_store_n(&srv.n_acceptors, na, __ATOMIC_RELEASE);
		for (unsigned i = na; i < old_n; i++) {
			ic_acceptor_stop(&srv.acceptors[i]);
			ic_acceptor_take_sources(&srv.acceptors[i], readopt, &na);
		}
	}
	log_info("threads: %u acceptors, %u workers, %u queues of %llu", na, nw, srv.ncpu,
		 (unsigned long long)conf->server.queue_capacity);
	if (ret == 0 && (na == 0 || nw == 0))
		ret = -EAGAIN;
	return ret;
}

int ic_server_init(struct ic_conf *conf, const char *conf_path, bool must_exist)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	int r;

	srv.conf_path = conf_path;
	srv.conf_must_exist = must_exist;
	ic_request_cache_init(&srv.recovery, IC_JOURNAL_RECOVERY_BASE, IC_JOURNAL_PER_ACCEPTOR);
	srv.ncpu = n > 0 ? (unsigned)n : 1;
	srv.started_ns = ic_now_ns();
	srv.queues = calloc(srv.ncpu, sizeof(*srv.queues));
	if (!srv.queues)
		return -ENOMEM;
	for (unsigned q = 0; q < srv.ncpu; q++)
		ic_queue_init(&srv.queues[q]);
	r = ic_registry_init();
	if (r < 0)
		return r;
	/* liburcu starts its call_rcu thread lazily, from the first caller: let that be us, not a
	 * worker standing in a container's root at the time. */
	if (!get_default_call_rcu_data())
		return -ENOMEM;
	pthread_mutex_lock(&srv.reload_lock);
	conf_publish(conf);
	r = apply(conf);
	pthread_mutex_unlock(&srv.reload_lock);
	return r;
}

int ic_server_reload(char *err, size_t errlen)
{
	const char *path = srv.conf_path;
	char cerr[IC_CONF_ERR_MAX];
	struct ic_conf *conf;
	int r;

	r = ic_conf_load(path, srv.conf_must_exist, &conf, cerr);
	if (r < 0) {
		snprintf(err, errlen, "%s", cerr);
		return log_error_errno(r, "reload refused, keeping the running configuration: %s",
				       cerr);
	}
	pthread_mutex_lock(&srv.reload_lock);
	conf_publish(conf);
	ic_log_set_level(conf->server.log_level);
	ic_log_set_target(conf->server.log_target);
	ic_log_set_ratelimit(conf->server.log_ratelimit_burst,
			     conf->server.log_ratelimit_interval_ms);
	r = apply(conf);
	__atomic_add_fetch(&srv.reloads, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&srv.reload_lock);
	if (r < 0)
		snprintf(err, errlen, "configuration loaded, but threads could not all start");
	else
		log_info("reloaded %s", path ? path : "(defaults)");
	return r;
}

int ic_server_adopt(struct ic_source *src)
{
	struct ic_acceptor *a;

	pthread_mutex_lock(&srv.reload_lock);
	a = least_loaded(srv.n_acceptors);
	if (a)
		ic_acceptor_give(a, src);
	pthread_mutex_unlock(&srv.reload_lock);
	return a ? 0 : -EAGAIN; /* no acceptor runs: nobody would ever poll it */
}

void ic_server_drain(void)
{
	pthread_mutex_lock(&srv.reload_lock);
	/* Stop taking notifications, then answer everything already queued. */
	for (unsigned i = 0; i < srv.n_acceptors; i++)
		ic_acceptor_stop(&srv.acceptors[i]);
	workers_stop(0, srv.n_workers, IC_WORKER_DRAIN);
	pthread_mutex_unlock(&srv.reload_lock);
}

void ic_server_continue_stats(const struct ic_stats *before)
{
	ic_stats_merge(&srv.sweeper, before);
}

void ic_server_stats(struct ic_stats *out)
{
	memset(out, 0, sizeof(*out));
	ic_stats_merge(out, &srv.sweeper);
	for (unsigned i = 0; i < IC_ACCEPTORS_MAX; i++)
		ic_stats_merge(out, &srv.acceptors[i].stats);
	for (unsigned i = 0; i < IC_WORKERS_MAX; i++) {
		struct ic_worker *w = __atomic_load_n(&srv.workers[i], __ATOMIC_ACQUIRE);

		if (w)
			ic_stats_merge(out, &w->stats);
	}
}

void ic_server_set_origin(pid_t keeper, unsigned generation)
{
	srv.keeper = keeper;
	srv.server_generation = generation;
}

static int by_key(const void *a, const void *b)
{
	const struct ic_source *x = *(struct ic_source *const *)a,
			       *y = *(struct ic_source *const *)b;

	return x->key < y->key ? -1 : x->key > y->key;
}

void ic_server_recover(const struct ic_journal_orphan *orphans, size_t n,
		       struct ic_source *const *srcs, size_t n_srcs)
{
	_cleanup_free_ struct ic_source **sorted = NULL;
	unsigned again = 0, failed = 0, gone = 0;
	struct ic_topology *topo;
	struct ic_conf *conf;
	size_t m = 0;

	if (!n)
		return;
	sorted = calloc(n_srcs ? n_srcs : 1, sizeof(*sorted));
	if (!sorted) {
		log_error("out of memory: %zu requests a dead server left stay unanswered", n);
		return;
	}
	for (size_t i = 0; i < n_srcs; i++)
		if (srcs[i])
			sorted[m++] = srcs[i];
	qsort(sorted, m, sizeof(*sorted), by_key);
	rcu_read_lock();
	conf = IC_LIVE_GET(srv.live.conf);
	topo = IC_LIVE_GET(srv.live.topo);
	for (size_t i = 0; i < n; i++) {
		struct ic_source key = {.key = orphans[i].key}, *kp = &key, **found;
		struct ic_request *req;

		found = bsearch(&kp, sorted, m, sizeof(*sorted), by_key);
		if (!found) {
			gone++;
			continue;
		}
		if ((*found)->ops->recover_by_continue) {
			/* No listener left to ask ID_VALID: only an answer that does nothing, and
			 * never a second one (the source would take it for the next call's). */
			if (orphans[i].replying) {
				gone++;
				continue;
			}
			struct ic_request fake = {.src = *found, .notif = orphans[i].notif};
			struct seccomp_notif_resp resp = {
			    .id = orphans[i].notif.id, .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE};

			memcpy(fake.lxc.hdr, orphans[i].aux, sizeof(fake.lxc.hdr));
			if ((*found)->ops->reply(&fake, &resp) == 0)
				failed++;
			else
				gone++;
			continue;
		}
		/* The target may be gone, and its pid someone else's: ask the kernel first. */
		if (ic_notif_id_valid((*found)->fd, orphans[i].notif.id) < 0) {
			gone++;
			continue;
		}
		req = ic_request_get(&srv.recovery);
		if (!req) {
			log_error("out of memory: a request a dead server left stays unanswered");
			continue;
		}
		req->notif = orphans[i].notif;
		req->attempts = orphans[i].attempts + 1;
		ic_request_begin(req, *found, conf, &srv.sweeper);
		if (ic_request_recover(req, orphans[i].acting, topo, 0, conf, &srv.sweeper))
			again++;
		else
			failed++;
	}
	rcu_read_unlock();
	log_warn(
	    "the previous server left %zu requests: %u served again, %u given the failure "
	    "answer (a side effect had begun, or a server died with it before), %u whose caller "
	    "is gone",
	    n, again, failed, gone);
}

void ic_server_status(struct ic_server_status *st)
{
	st->keeper = srv.keeper;
	st->generation = srv.server_generation;
	st->started_ns = srv.started_ns;
	st->reloads = __atomic_load_n(&srv.reloads, __ATOMIC_RELAXED);
	st->ncpu = srv.ncpu;
	st->acceptors = __atomic_load_n(&srv.n_acceptors, __ATOMIC_RELAXED);
	st->workers = __atomic_load_n(&srv.n_workers, __ATOMIC_RELAXED);
}

bool ic_server_queue_info(unsigned q, uint64_t *depth, uint64_t *full)
{
	if (q >= srv.ncpu)
		return false;
	*depth = ic_queue_depth(&srv.queues[q]);
	*full = __atomic_load_n(&srv.queues[q].full, __ATOMIC_RELAXED);
	return true;
}

void ic_server_fini(void)
{
	for (unsigned i = 0; i < IC_ACCEPTORS_MAX; i++)
		if (srv.acceptors[i].live)
			ic_acceptor_fini(&srv.acceptors[i]);
	for (unsigned i = 0; i < IC_WORKERS_MAX; i++) {
		ic_worker_free(srv.workers[i]);
		srv.workers[i] = NULL;
	}
	rcu_barrier();
	topology_publish(NULL);
	rcu_barrier();
	ic_request_cache_fini(&srv.recovery);
	ic_registry_fini();
	for (unsigned q = 0; q < srv.ncpu; q++)
		ic_queue_destroy(&srv.queues[q]);
	free(srv.queues);
	pthread_mutex_lock(&srv.reload_lock);
	conf_publish(NULL);
	pthread_mutex_unlock(&srv.reload_lock);
	rcu_barrier();
}
