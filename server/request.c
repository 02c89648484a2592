/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/notify.h"
#include "common/proc.h"
#include "common/tsan.h"
#include "handlers/handlers.h"
#include "server/journal.h"
#include "server/queue.h"
#include "server/registry.h"
#include "server/request.h"
#include "server/source.h"
#include "server/stats.h"

/* Requests an acceptor keeps for reuse; a burst's worth beyond goes back to the allocator. */
#define CACHE_MAX 4096

void ic_request_cache_init(struct ic_request_cache *c, unsigned slot_base, unsigned n_slots)
{
	cds_lfs_init(&c->returned);
	c->free_list = NULL;
	c->n_free = 0;
	c->slot_next = slot_base;
	c->slot_end = slot_base + n_slots;
}

void ic_request_cache_fini(struct ic_request_cache *c)
{
	struct cds_lfs_head *head = __cds_lfs_pop_all(&c->returned);
	struct cds_lfs_node *node, *next;

	IC_HANDOFF_TAKE(&c->returned);
	IC_LFS_FOR_EACH_SAFE(head, node, next)
	free(caa_container_of(node, struct ic_request, fnode));
	while (c->free_list) {
		struct ic_request *r = c->free_list;

		c->free_list = r->next_free;
		free(r);
	}
	c->n_free = 0;
}

struct ic_request *ic_request_get(struct ic_request_cache *c)
{
	struct ic_request *req = c->free_list;

	if (!req) {
		struct cds_lfs_head *head = __cds_lfs_pop_all(&c->returned);
		struct cds_lfs_node *node, *next;

		IC_HANDOFF_TAKE(&c->returned);
		IC_LFS_FOR_EACH_SAFE(head, node, next)
		{
			struct ic_request *r = caa_container_of(node, struct ic_request, fnode);

			/* Those that own a journal slot stay: there are at most as many. */
			if (c->n_free >= CACHE_MAX && !r->slot) {
				free(r);
				continue;
			}
			r->next_free = c->free_list;
			c->free_list = r;
			c->n_free++;
		}
		req = c->free_list;
	}
	if (req) {
		c->free_list = req->next_free;
		c->n_free--;
	} else {
		req = malloc(sizeof(*req));
		if (!req)
			return NULL;
		req->origin = c;
		req->slot = c->slot_next < c->slot_end ? ic_journal_slot(c->slot_next) : NULL;
		if (req->slot)
			c->slot_next++;
	}
	req->src = NULL;
	req->ct = NULL;
	req->attempts = 0;
	for (int i = 0; i < 3; i++)
		req->lxc.fds[i] = -1;
	return req;
}

void ic_request_unget(struct ic_request *req)
{
	struct ic_request_cache *c = req->origin;

	req->next_free = c->free_list;
	c->free_list = req;
	c->n_free++;
}

void ic_request_release(struct ic_request *req)
{
	if (req->slot)
		ic_journal_set(req->slot, IC_JOURNAL_FREE);
	/* Before the reference that may be the container's last goes. */
	__atomic_sub_fetch(&req->ct->inflight, 1, __ATOMIC_RELEASE);
	if (req->src->ops->release)
		req->src->ops->release(req);
	ic_source_put(req->src);
	req->src = NULL;
	cds_lfs_node_init(&req->fnode);
	IC_HANDOFF_PUBLISH(&req->origin->returned);
	cds_lfs_push(&req->origin->returned, &req->fnode);
}

void ic_request_begin(struct ic_request *req, struct ic_source *src, const struct ic_conf *conf,
		      struct ic_stats *st)
{
	IC_COUNTER_ADD(st->received, 1);
	ic_source_ref(src);
	req->src = src;
	req->ct = src->ct;
	req->t_recv_ns = ic_now_ns();
	req->deadline_ns = req->t_recv_ns + (uint64_t)conf->server.deadline_ms * 1000000ULL;
	req->state = IC_REQ_QUEUED;
	req->timed_out = false;
	req->sys = ic_syscall_lookup(req->notif.data.arch, req->notif.data.nr, &req->abi);
	req->policy = ic_container_policy(req->ct, conf);
	req->conf_gen = conf->generation;
	/* Only a source with a key can be found again by the next server. Its own recv may have
	 * journaled it already (listeners do). */
	if (req->slot && src->key &&
	    __atomic_load_n(&req->slot->state, __ATOMIC_RELAXED) == IC_JOURNAL_FREE)
		ic_journal_received(req->slot, src->key, &req->notif, req->attempts, req->lxc.hdr);
	__atomic_add_fetch(&req->ct->requests, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&req->ct->inflight, 1, __ATOMIC_ACQUIRE);
}

bool ic_request_fast(const struct ic_request *req)
{
	return !req->sys || req->sys->fast;
}

/* The policy of req's container under snapshot conf (referenced or under rcu_read_lock). */
static const struct ic_policy *policy_under(const struct ic_request *req,
					    const struct ic_conf *conf)
{
	/* A reload since arrival: the policy of the snapshot in hand, found again. */
	return req->conf_gen == conf->generation ? req->policy : ic_container_policy(req->ct, conf);
}

/* Any thread. False when another thread moved req first. */
static bool move(struct ic_request *req, enum ic_req_state from, enum ic_req_state to)
{
	int expected = (int)from;

	return __atomic_compare_exchange_n(&req->state, &expected, (int)to, false, __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE);
}

/* Send the one answer of req; the kind of answer, for the counters. The caller moved req to
 * IC_REQ_DONE. */
static enum ic_answer answer(struct ic_request *req, enum ic_verdict v, const struct ic_resp *r,
			     const struct ic_policy *p)
{
	struct seccomp_notif_resp resp = {.id = req->notif.id};
	enum ic_answer kind;
	int ret;

	switch (v) {
	case IC_VERDICT_RESPOND:
		resp.val = r->val;
		resp.error = -r->error;
		kind = r->error ? IC_ANSWER_ERRNO : IC_ANSWER_EMULATED;
		break;
	case IC_VERDICT_CONTINUE:
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		kind = IC_ANSWER_CONTINUED;
		break;
	case IC_VERDICT_GONE:
		/* The kernel has nothing to answer; some sources still wait for their reply. */
		if (!req->src->ops->reply_when_gone)
			return IC_ANSWER_DROPPED;
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		kind = IC_ANSWER_DROPPED;
		break;
	case IC_VERDICT_FAILED:
	default:
		if (p && p->failure.kind == IC_FAILURE_ERRNO)
			resp.error = -p->failure.err;
		else
			resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		kind = IC_ANSWER_FAILED;
		break;
	}
	/* A server that follows a crash must not answer it again: LXC would take that answer for
	 * its next call's, and every answer after it. */
	if (req->slot && req->src->key)
		ic_journal_set(req->slot, IC_JOURNAL_REPLYING);
	ret = req->src->ops->reply(req, &resp);
	if (ret == -ENOENT)
		return IC_ANSWER_DROPPED;
	if (ret < 0) {
		log_warn_errno(ret, "container %s: answer: %s", req->ct->info.id, strerror(-ret));
		return IC_ANSWER_FAILED;
	}
	return kind;
}

static void account(struct ic_stats *st, const struct ic_request *req, enum ic_answer kind)
{
	unsigned idx = req->sys ? ic_syscall_id(req->sys) : IC_SYS_MAX;

	IC_COUNTER_ADD(st->by_sys[idx], 1);
	IC_COUNTER_ADD(st->answers[kind], 1);
	ic_hist_add(&st->latency[idx], ic_now_ns() - req->t_recv_ns);
}

/* Which request got the failure answer, and why: the counters say how many. */
static void log_failure(const struct ic_request *req, const char *why)
{
	log_debug("container %s: the failure answer to %s (id %llu): %s", req->ct->info.id,
		  req->sys ? ic_syscall_name(req->sys) : "an unknown call",
		  (unsigned long long)req->notif.id, why);
}

/* The failure answer for a request claimed (moved to DONE) by a thread that will not serve
 * it (why). The caller still releases it. */
static void fail(struct ic_request *req, const struct ic_conf *conf, struct ic_stats *st,
		 const char *why)
{
	enum ic_answer kind = answer(req, IC_VERDICT_FAILED, NULL, policy_under(req, conf));

	if (kind == IC_ANSWER_FAILED)
		log_failure(req, why);
	account(st, req, kind);
}

int ic_request_queue(struct ic_request *req, struct ic_topology *topo, unsigned q,
		     const struct ic_conf *conf, struct ic_stats *st)
{
	int r;

	req->qnode.key = req->ct;
	r = ic_queue_push(topo->queues[q], &req->qnode, topo->capacity);

	if (r == -ENOSPC) {
		IC_COUNTER_ADD(st->queue_full, 1);
		req->state = IC_REQ_DONE;
		fail(req, conf, st, "its queue is full");
		ic_request_release(req);
		return -1;
	}
	/* Backlog, on the wait-free queue or in the runs a pop made: a sleeping worker elsewhere
	 * may steal (the wake costs nothing when none sleeps). The empty -> non-empty wake is
	 * batched by our caller. */
	if (ic_queue_depth(topo->queues[q]) > 1)
		ic_topology_wake_idle(topo, topo->wake[q]);
	return r == 1 ? (int)q : -1;
}

bool ic_request_recover(struct ic_request *req, bool side_effect_began, struct ic_topology *topo,
			unsigned q, const struct ic_conf *conf, struct ic_stats *st)
{
	bool again = req->attempts <= 1 && (!side_effect_began || (req->sys && req->sys->rerun));

	if (again) {
		if (ic_request_queue(req, topo, q, conf, st) >= 0)
			ic_queue_wake(topo->queues[topo->wake[q]]);
		return true;
	}
	req->state = IC_REQ_DONE;
	fail(req, conf, st, "left by a server that died acting on it, or with it once before");
	ic_request_release(req);
	return false;
}

/* Handler callback, worker thread. After it succeeds the request is ours to answer (ACTING):
 * the sweeper can no longer give it the failure answer, so the side effect may happen. */
static int still_valid(struct ic_req *hreq)
{
	struct ic_request *req = hreq->core;
	int fd = req->src->ops->listener_fd(req), r;

	if (fd >= 0) {
		r = ic_notif_id_valid(fd, req->notif.id);
		/* Once a source: it is asked two or three times a request. */
		if (r < 0 && r != -ENOENT &&
		    !__atomic_exchange_n(&req->src->warned_id_valid, true, __ATOMIC_RELAXED))
			log_warn_errno(r, "container %s: NOTIF_ID_VALID on the listener of %s: %m",
				       req->ct->info.id, ic_source_name(req->src));
		if (r < 0)
			return r;
	}
	if (ic_now_ns() > req->deadline_ns) {
		req->timed_out = true;
		return -ETIMEDOUT;
	}
	if (__atomic_load_n(&req->state, __ATOMIC_ACQUIRE) == IC_REQ_ACTING)
		return 0;
	if (!move(req, IC_REQ_SERVING, IC_REQ_ACTING)) {
		/* The sweeper answered it a moment ago. */
		req->timed_out = true;
		return -ETIMEDOUT;
	}
	/* A server that follows a crash must not do it again. */
	if (req->slot && req->src->key)
		ic_journal_set(req->slot, IC_JOURNAL_ACTING);
	return 0;
}

/* Handler callback, worker thread: install fd in the target. */
static int add_fd(struct ic_req *hreq, int fd)
{
	struct ic_request *req = hreq->core;
	struct seccomp_notif_addfd addfd = {
	    .id = req->notif.id,
	    .srcfd = (uint32_t)fd,
	    .newfd_flags = O_CLOEXEC,
	};
	int lfd = req->src->ops->listener_fd(req), r;

	if (lfd < 0)
		return -EOPNOTSUPP; /* an LXC older than 4.0.5 sends no listener */
	r = ioctl(lfd, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
	return r < 0 ? -errno : r;
}

static void serving_set(struct ic_serving *serving, struct ic_request *req)
{
	if (!serving)
		return;
	pthread_mutex_lock(&serving->lock);
	serving->req = req;
	pthread_mutex_unlock(&serving->lock);
}

/* With no listener there is no NOTIF_ID_VALID: the pid of the notification may belong to
 * anyone by now, or have been in no notification at all, so nothing may be read from or done to
 * it (doc/design.md §4.5). The kernel decides; the first such request of a source is logged. */
static enum ic_verdict unvalidated(struct ic_request *req, struct ic_stats *st)
{
	IC_COUNTER_ADD(st->unvalidated, 1);
	if (!__atomic_exchange_n(&req->src->warned_unvalidated, true, __ATOMIC_RELAXED))
		log_warn(
		    "container %s: %s sent no seccomp listener, so no request can be validated: "
		    "the kernel decides every call (LXC 4.0.5 or later sends one)",
		    req->ct->info.id, ic_source_name(req->src));
	return IC_VERDICT_CONTINUE;
}

void ic_request_serve(struct ic_request *req, const struct ic_conf *conf, struct ic_stats *st,
		      struct ic_serving *serving)
{
	struct ic_container *ct = req->ct;
	struct ic_req hreq = {
	    .notif = &req->notif,
	    .sys = req->sys,
	    .abi = req->abi,
	    .policy = policy_under(req, conf),
	    .ct = &ct->info,
	    .state = req->sys ? ic_syscall_state(req->sys, ct->info.state) : NULL,
	    .deadline_ns = req->deadline_ns,
	    .still_valid = still_valid,
	    .add_fd = add_fd,
	    .core = req,
	};
	struct ic_resp resp = {0};
	enum ic_verdict v;
	int state;

	/* The sweeper answered it while it waited in the queue. */
	if (!move(req, IC_REQ_QUEUED, IC_REQ_SERVING)) {
		ic_request_release(req);
		return;
	}
	serving_set(serving, req);
	/* Once while it lasts, not once per call: the container may loop. */
	if (!hreq.policy && !__atomic_exchange_n(&ct->no_policy_logged, true, __ATOMIC_RELAXED))
		log_warn("container %s: policy '%s' does not exist; the kernel answers its calls "
			 "until a reload brings it",
			 ct->info.id, ct->policy_name);
	else if (hreq.policy && __atomic_load_n(&ct->no_policy_logged, __ATOMIC_RELAXED))
		__atomic_store_n(&ct->no_policy_logged, false, __ATOMIC_RELAXED);
	req->timed_out = ic_now_ns() > req->deadline_ns;
	if (req->timed_out)
		v = IC_VERDICT_FAILED;
	else if (req->sys && req->src->ops->listener_fd(req) < 0)
		v = unvalidated(req, st);
	else
		v = ic_handle(&hreq, &resp);
	if (req->timed_out)
		IC_COUNTER_ADD(st->deadline_missed, 1);

	/* Ours to answer unless the sweeper gave the failure answer meanwhile. */
	state = __atomic_load_n(&req->state, __ATOMIC_ACQUIRE);
	if (move(req, state == IC_REQ_ACTING ? IC_REQ_ACTING : IC_REQ_SERVING, IC_REQ_DONE)) {
		enum ic_answer kind = answer(req, v, &resp, hreq.policy);

		if (kind == IC_ANSWER_FAILED)
			log_failure(req, req->timed_out		  ? "past its deadline"
					 : v == IC_VERDICT_FAILED ? "its handler failed"
								  : "its answer could not be sent");
		account(st, req, kind);
	}
	serving_set(serving, NULL);
	ic_request_release(req);
}

struct sweep {
	uint64_t now;
	const struct ic_conf *conf;
	struct ic_stats *st;
};

static void sweep_one(struct ic_queue_node *node, void *data)
{
	struct ic_request *req = caa_container_of(node, struct ic_request, qnode);
	struct sweep *sw = data;

	if (sw->now > req->deadline_ns && move(req, IC_REQ_QUEUED, IC_REQ_DONE)) {
		IC_COUNTER_ADD(sw->st->deadline_missed, 1);
		fail(req, sw->conf, sw->st, "past its deadline in its queue");
	}
}

void ic_request_sweep_queue(struct ic_queue *q, uint64_t now, const struct ic_conf *conf,
			    struct ic_stats *st)
{
	struct sweep sw = {.now = now, .conf = conf, .st = st};

	if (ic_queue_depth(q) == 0)
		return;
	/* Excludes dequeuers (workers) while we walk; producers may still append. The worker that
	 * dequeues a request answered here just lets go of it. Turns between containers reorder
	 * the queue, so look at every entry. */
	ic_queue_for_each(q, sweep_one, &sw);
}

void ic_request_sweep_serving(struct ic_serving *serving, uint64_t now, const struct ic_conf *conf,
			      struct ic_stats *st)
{
	struct ic_request *req;

	/* The lock keeps the worker from releasing the request while we answer it. */
	pthread_mutex_lock(&serving->lock);
	req = serving->req;
	if (req && now > req->deadline_ns && move(req, IC_REQ_SERVING, IC_REQ_DONE)) {
		IC_COUNTER_ADD(st->deadline_missed, 1);
		fail(req, conf, st, "past its deadline while served");
	}
	pthread_mutex_unlock(&serving->lock);
}
