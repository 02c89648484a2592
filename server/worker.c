/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>

#include "common/caller.h"
#include "common/log.h"
#include "common/notify.h"
#include "common/proc.h"
#include "handlers/handlers.h"
#include "server/lxc.h"
#include "server/registry.h"
#include "server/server.h"

/* How long an idle worker sleeps before it looks at the other queues again, in case work landed
 * on a queue whose wake went to a busy worker. */
#define WORKER_IDLE_MS 20

const struct ic_policy *ic_server_policy_of(const struct ic_conf *conf, const void *container)
{
	const struct ic_container *ct = container;

	return ct->own_policy ? ct->own_policy : ic_conf_policy(conf, ct->policy_name);
}

bool ic_request_move(struct ic_request *req, enum ic_req_state from, enum ic_req_state to)
{
	int expected = (int)from;

	return __atomic_compare_exchange_n(&req->state, &expected, (int)to, false, __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE);
}

/* The listener to ask ID_VALID, -1 when an old LXC did not send it. */
static int request_listener_fd(const struct ic_request *req)
{
	return req->kind == IC_SOURCE_LISTENER ? req->listener->src.fd : req->lxc_fds[2];
}

/* Worker thread, from a handler. After it succeeds the request is ours to answer (ACTING):
 * the sweeper can no longer give it the failure answer, so the side effect may happen. */
static int req_still_valid(struct ic_req *hreq)
{
	struct ic_request *req = hreq->core;
	int fd = request_listener_fd(req), r;

	if (fd >= 0) {
		r = ic_notif_id_valid(fd, req->notif.id);
		if (r < 0)
			return r;
	}
	if (ic_now_ns() > req->deadline_ns) {
		req->timed_out = true;
		return -ETIMEDOUT;
	}
	if (__atomic_load_n(&req->state, __ATOMIC_ACQUIRE) == IC_REQ_ACTING)
		return 0;
	if (!ic_request_move(req, IC_REQ_SERVING, IC_REQ_ACTING)) {
		/* The sweeper answered it a moment ago. */
		req->timed_out = true;
		return -ETIMEDOUT;
	}
	return 0;
}

static int req_add_fd(struct ic_req *hreq, int fd)
{
	struct ic_request *req = hreq->core;
	struct seccomp_notif_addfd addfd = {
	    .id = req->notif.id,
	    .srcfd = (uint32_t)fd,
	    .newfd_flags = O_CLOEXEC,
	};
	int lfd = request_listener_fd(req), r;

	if (lfd < 0)
		return -EOPNOTSUPP; /* an LXC older than 4.0.5 sends no listener */
	r = ioctl(lfd, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
	return r < 0 ? -errno : r;
}

/* Send the one answer of req. Returns the answer kind for the counters. The caller moved req
 * to IC_REQ_DONE. */
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
		/* The kernel has nothing to answer; LXC still waits for its datagram. */
		if (req->kind == IC_SOURCE_LISTENER)
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
	if (req->kind == IC_SOURCE_LXC)
		ret = ic_lxc_reply(req, &resp);
	else
		ret = ic_notif_send(req->listener->src.fd, &resp);
	if (ret == -ENOENT)
		return IC_ANSWER_DROPPED;
	if (ret < 0) {
		log_warn_errno(ret, "container %s: answer: %s", req->ct->info.id, strerror(-ret));
		return IC_ANSWER_FAILED;
	}
	return kind;
}

static void account(struct ic_stats *st, struct ic_request *req, int sys, enum ic_answer kind)
{
	unsigned idx = sys >= 0 && sys < _IC_SYS_MAX ? (unsigned)sys : _IC_SYS_MAX;

	IC_COUNTER_ADD(st->by_sys[idx], 1);
	IC_COUNTER_ADD(st->answers[kind], 1);
	ic_hist_add(&st->latency[idx], ic_now_ns() - req->t_recv_ns);
}

/* Any thread, with a reference on conf (or under rcu_read_lock); the caller claimed req. */
void ic_request_fail(struct ic_stats *st, struct ic_request *req, const struct ic_conf *conf)
{
	const struct ic_policy *p = ic_server_policy_of(conf, req->ct);
	int sys = ic_sys_lookup(req->notif.data.arch, req->notif.data.nr, NULL);

	account(st, req, sys, answer(req, IC_VERDICT_FAILED, NULL, p));
}

/* Worker thread, outside any RCU read-side section: a handler may block (it reads and writes
 * target memory), and must not hold up grace periods, reloads or the drain. w->conf is pinned
 * by reference. */
/* Run req's handler and answer it. cur_lock/cur: the worker's, for the sweeper; NULL when the
 * request was never queued (served in place by its acceptor). */
static void serve_with(struct ic_stats *st, const struct ic_conf *conf, pthread_mutex_t *cur_lock,
		       struct ic_request **cur, struct ic_request *req)
{
	struct ic_container *ct = req->ct;
	struct ic_req hreq = {
	    .notif = &req->notif,
	    .ct = &ct->info,
	    .policy = ic_server_policy_of(conf, ct),
	    .mem_fd = req->kind == IC_SOURCE_LXC ? req->lxc_fds[1] : -1,
	    .deadline_ns = req->deadline_ns,
	    .still_valid = req_still_valid,
	    .add_fd = req_add_fd,
	    .core = req,
	};
	struct ic_resp resp = {0};
	enum ic_verdict v;
	int state;

	/* The sweeper answered it while it waited in the queue. */
	if (!ic_request_move(req, IC_REQ_QUEUED, IC_REQ_SERVING)) {
		ic_request_release(req);
		return;
	}
	if (cur_lock) {
		pthread_mutex_lock(cur_lock);
		*cur = req;
		pthread_mutex_unlock(cur_lock);
	}
	if (!hreq.policy)
		log_warn("container %s: policy '%s' no longer exists; the kernel decides",
			 ct->info.id, ct->policy_name);
	hreq.sys = ic_sys_lookup(req->notif.data.arch, req->notif.data.nr, &hreq.abi);
	req->timed_out = ic_now_ns() > req->deadline_ns;
	v = req->timed_out ? IC_VERDICT_FAILED : ic_handle(&hreq, &resp);
	if (req->timed_out)
		IC_COUNTER_ADD(st->deadline_missed, 1);

	/* Ours to answer unless the sweeper gave the failure answer meanwhile. */
	state = __atomic_load_n(&req->state, __ATOMIC_ACQUIRE);
	if (ic_request_move(req, state == IC_REQ_ACTING ? IC_REQ_ACTING : IC_REQ_SERVING,
			    IC_REQ_DONE))
		account(st, req, hreq.sys, answer(req, v, &resp, hreq.policy));

	if (cur_lock) {
		pthread_mutex_lock(cur_lock);
		*cur = NULL;
		pthread_mutex_unlock(cur_lock);
	}
	ic_request_release(req);
}

static void serve(struct ic_worker *w, struct ic_request *req)
{
	serve_with(&w->stats, w->conf, &w->cur_lock, &w->cur, req);
}

void ic_request_serve_inline(struct ic_stats *st, const struct ic_conf *conf,
			     struct ic_request *req)
{
	serve_with(st, conf, NULL, NULL, req);
}

static struct ic_request *take(struct ic_topology *topo, unsigned home)
{
	struct cds_wfcq_node *node = ic_queue_pop(topo->queues[home % topo->n]);

	/* Idle at home: steal, starting after our own queue so stealers spread out. */
	for (unsigned i = 1; !node && i < topo->n; i++)
		node = ic_queue_pop(topo->queues[(home + i) % topo->n]);
	return node ? caa_container_of(node, struct ic_request, qnode) : NULL;
}

/* Under rcu_read_lock: follow a reload. Returns the snapshot to put after the read section. */
static struct ic_conf *follow_conf(struct ic_worker *w)
{
	struct ic_conf *cur = rcu_dereference(ic_srv.conf), *old = w->conf;

	if (cur == old)
		return NULL;
	ic_server_conf_ref(cur);
	w->conf = cur;
	return old;
}

void *ic_worker_main(void *arg)
{
	struct ic_worker *w = arg;
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

		if (stop == 1)
			break;
		rcu_read_lock();
		old = follow_conf(w);
		topo = rcu_dereference(ic_srv.topo);
		req = take(topo, w->home);
		hq = topo->queues[w->home % topo->n];
		if (!req && stop != 2) {
			seen = ic_queue_sleep_prepare(hq);
			req = take(topo, w->home);
			if (req)
				ic_queue_sleep_finish(hq);
		}
		rcu_read_unlock();
		ic_server_conf_put(old);
		if (req) {
			serve(w, req);
			continue;
		}
		if (stop == 2)
			break;
		/* Queues live for the process, so sleeping outside the read section is safe. */
		ic_queue_sleep(hq, seen, WORKER_IDLE_MS);
		ic_queue_sleep_finish(hq);
	}
	ic_server_conf_put(w->conf);
	w->conf = NULL;
	rcu_unregister_thread();
	return NULL;
}
