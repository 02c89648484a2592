/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <urcu.h>

#include "common/caller.h"
#include "common/fsctx.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/proc.h"
#include "server/live.h"
#include "server/queue.h"
#include "server/worker.h"

/* How long an idle worker sleeps before it looks at the other queues again, in case work landed
 * on a queue whose wake went to a busy worker. */
#define IDLE_MS 20

struct ic_worker *ic_worker_new(unsigned idx, const struct ic_live *live)
{
	size_t size = (sizeof(struct ic_worker) + IC_CACHELINE - 1) & ~(size_t)(IC_CACHELINE - 1);
	struct ic_worker *w = aligned_alloc(IC_CACHELINE, size);

	if (!w)
		return NULL;
	memset(w, 0, sizeof(*w));
	w->idx = idx;
	w->live = live;
	pthread_mutex_init(&w->serving.lock, NULL);
	return w;
}

void ic_worker_free(struct ic_worker *w)
{
	if (!w)
		return;
	pthread_mutex_destroy(&w->serving.lock);
	free(w);
}

static struct ic_request *take(struct ic_topology *topo, unsigned home)
{
	struct ic_queue_node *node = ic_queue_pop(topo->queues[home % topo->n]);

	/* Idle at home: steal, starting after our own queue so stealers spread out. */
	for (unsigned i = 1; !node && i < topo->n; i++)
		node = ic_queue_pop(topo->queues[(home + i) % topo->n]);
	return node ? caa_container_of(node, struct ic_request, qnode) : NULL;
}

/* Under rcu_read_lock: follow a reload. Returns the snapshot to unref after the read section. */
static struct ic_conf *follow_conf(struct ic_worker *w)
{
	struct ic_conf *cur = IC_LIVE_GET(w->live->conf), *old = w->conf;

	if (cur == old)
		return NULL;
	ic_conf_ref(cur);
	w->conf = cur;
	return old;
}

static void *worker_main(void *arg)
{
	struct ic_worker *w = arg;
	unsigned idle = 0;
	int r;

	rcu_register_thread();
	/* Handlers act in containers' roots and namespaces: this thread's fs state is its own. */
	r = ic_fsctx_thread_init();
	if (r < 0)
		log_error_errno(
		    r, "worker %u: no private fs context (%s): mknod and setxattr will fail",
		    w->idx, strerror(-r));
	for (;;) {
		int stop = __atomic_load_n(&w->stop, __ATOMIC_ACQUIRE);
		struct ic_conf *old;
		struct ic_topology *topo;
		struct ic_request *req;
		struct ic_queue *hq;
		uint32_t seen = 0;

		if (stop == IC_WORKER_EXIT)
			break;
		rcu_read_lock();
		old = follow_conf(w);
		topo = IC_LIVE_GET(w->live->topo);
		req = take(topo, w->home);
		hq = topo->queues[w->home % topo->n];
		if (!req && stop != IC_WORKER_DRAIN) {
			seen = ic_queue_sleep_prepare(hq);
			req = take(topo, w->home);
			if (req)
				ic_queue_sleep_finish(hq);
		}
		rcu_read_unlock();
		ic_conf_unref(old);
		if (req) {
			/* Outside the read section: a handler may block, and must not hold up grace
			 * periods, reloads or the drain. w->conf is pinned by reference. */
			ic_request_serve(req, w->conf, &w->stats, &w->serving);
			idle = 0;
		}
		/* Unused for IC_FSCTX_PARKED_MAX_MS, by the clock of its last use and not by empty
		 * polls (requests that never use it must not keep it alive), the caller's context a
		 * handler parked (doc/design.md §10) and the tasks' /proc fds go. */
		if (ic_fsctx_release_stale(IC_FSCTX_PARKED_MAX_MS))
			ic_caller_cache_drop();
		if (req)
			continue;
		if (stop == IC_WORKER_DRAIN)
			break;
		/* Idle for a whole IDLE_MS: the tasks' /proc fds go too. */
		if (idle++ == 1) {
			ic_fsctx_release();
			ic_caller_cache_drop();
		}
		/* Queues live for the process, so sleeping outside the read section is safe. */
		ic_queue_sleep(hq, seen, IDLE_MS);
		ic_queue_sleep_finish(hq);
	}
	ic_fsctx_release();
	ic_caller_cache_drop();
	ic_conf_unref(w->conf);
	w->conf = NULL;
	rcu_unregister_thread();
	return NULL;
}

int ic_worker_start(struct ic_worker *w, unsigned home, int cpu)
{
	char name[16];
	int r;

	w->home = home;
	w->cpu = cpu;
	__atomic_store_n(&w->stop, IC_WORKER_RUN, __ATOMIC_RELEASE);
	snprintf(name, sizeof(name), "ic-worker-%u", w->idx);
	r = ic_thread_start(&w->thread, worker_main, w, cpu, name);
	if (r < 0)
		return log_error_errno(r, "worker %u: cannot start: %m", w->idx);
	w->started = true;
	return 0;
}

void ic_worker_request_stop(struct ic_worker *w, enum ic_worker_stop how)
{
	if (w->started)
		__atomic_store_n(&w->stop, how, __ATOMIC_RELEASE);
}

void ic_worker_join(struct ic_worker *w)
{
	if (!w->started)
		return;
	pthread_join(w->thread, NULL);
	w->started = false;
}
