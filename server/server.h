/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_SERVER_SERVER_H
#define IC_SERVER_SERVER_H

#include <linux/seccomp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <urcu.h>
#include <urcu/lfstack.h>
#include <urcu/list.h>
#include <urcu/wfcqueue.h>

#include "common/conf.h"
#include "common/macros.h"
#include "server/queue.h"
#include "server/registry.h"
#include "server/stats.h"

struct ic_acceptor;
struct ic_lxc_conn;

/* cds_lfs_for_each_safe for what __cds_lfs_pop_all returned, NULL (empty) included: liburcu's
 * macro takes the address of a member of the NULL head. */
#define IC_LFS_FOR_EACH_SAFE(head, node, next)                                                     \
	for ((node) = (head) ? &(head)->node : NULL; (node) && ((next) = (node)->next, 1);         \
	     (node) = (next))

/* Who answers a request, as a state that only moves forward (compare-and-swap):
 * QUEUED -> SERVING (a worker dequeued it) -> ACTING (its side effect begins) -> DONE, or
 * QUEUED/SERVING -> DONE by the deadline sweeper with the failure answer. ACTING is the point
 * of no return: after it only the worker answers, so nothing happens after a failure answer. */
enum ic_req_state {
	IC_REQ_QUEUED = 0,
	IC_REQ_SERVING = 1,
	IC_REQ_ACTING = 2,
	IC_REQ_DONE = 3,
	_IC_REQ_STATE_MAX
};

#define IC_ACCEPT_DROP (-2)
#define IC_PAUSED_MAX  256

/* One notification on its way from an acceptor to a worker. Allocated from the acceptor's own
 * cache and given back to it through a lock-free stack, never through malloc per request. */
struct ic_request {
	struct cds_wfcq_node qnode;
	struct cds_lfs_node fnode;
	struct ic_request *next_free;
	struct ic_acceptor *origin;
	enum ic_source_kind kind;
	struct ic_container *ct;      /* kept alive by the listener or connection reference */
	struct ic_listener *listener; /* IC_SOURCE_LISTENER: reference held */
	struct ic_lxc_conn *lxc;      /* IC_SOURCE_LXC: reference held */
	int lxc_fds[3];		      /* /proc/<pid>, /proc/<pid>/mem, listener (-1: not sent) */
	unsigned char lxc_hdr[32];    /* echoed in the reply */
	uint64_t t_recv_ns;
	uint64_t deadline_ns;
	bool timed_out; /* the deadline passed before the answer: failure answer, no side effect */
	int state;	/* atomic: enum ic_req_state */
	struct seccomp_notif notif;
};

struct ic_acceptor {
	/* Written by the main thread (under the reload lock) only. */
	unsigned idx;
	int cpu; /* -1: not pinned */
	pthread_t thread;
	bool started;
	int epfd;
	int evfd; /* wakes the thread for its inbox and for stop */
	int stop; /* atomic: 1 = hand listeners over and exit, 2 = exit (drain) */

	/* Shared: other threads push, the owner pops. */
	IC_ALIGNED_CACHELINE struct cds_lfs_stack inbox; /* sources to adopt */
	struct cds_lfs_stack returned;			 /* requests given back by workers */
	int n_sources;					 /* atomic: for least-loaded choice */

	/* The owner thread's alone. */
	IC_ALIGNED_CACHELINE struct cds_list_head sources;
	struct ic_request *free_list;
	unsigned n_free;
	unsigned n_paused;
	struct ic_listener *paused[IC_PAUSED_MAX]; /* listeners over their container's cap */
	struct ic_stats stats;
};

struct ic_worker {
	unsigned idx;
	unsigned home; /* queue index */
	int cpu;
	pthread_t thread;
	bool started;
	int stop;	      /* atomic: 1 = exit now, 2 = exit once every queue is empty */
	struct ic_conf *conf; /* the snapshot this worker serves with, pinned by a reference */
	/* The request being served, for the deadline sweeper; the lock keeps it from being
	 * released while the sweeper looks at it. */
	pthread_mutex_t cur_lock;
	struct ic_request *cur;
	IC_ALIGNED_CACHELINE struct ic_stats stats;
};

struct ic_server {
	struct ic_conf *conf;	  /* RCU: rcu_dereference, replaced with rcu_xchg_pointer */
	struct ic_topology *topo; /* RCU likewise */
	unsigned ncpu;
	struct ic_queue *queues; /* ncpu of them, for the process's life */
	unsigned n_acceptors;	 /* atomic reads; written under reload_lock */
	unsigned n_workers;
	struct ic_acceptor acceptors[IC_ACCEPTORS_MAX];
	struct ic_worker *workers[IC_WORKERS_MAX];
	pthread_mutex_t reload_lock;
	uint64_t started_ns;
	uint64_t reloads;
	int draining;		 /* atomic */
	struct ic_stats sweeper; /* the main thread's: requests answered past their deadline */
	const char *conf_path;	 /* what reload re-reads */
	bool conf_must_exist;	 /* -c given: a missing file is an error */
};

extern struct ic_server ic_srv;

/* threads.c — main thread (or the control thread under reload_lock). */
int ic_server_init(struct ic_conf *conf);
/* Start, stop and re-pin threads to match conf; publishes the topology. Caller holds
 * reload_lock. */
int ic_server_apply(const struct ic_conf *conf);
/* Replace the config snapshot (after ic_conf_load succeeded) and apply it. */
int ic_server_reload(char *err, size_t errlen);
/* SIGTERM: stop acceptors, answer what is queued, stop workers. */
void ic_server_drain(void);
void ic_server_fini(void);
/* Front ends: hand a new source to the least-loaded acceptor. Takes reload_lock. -EAGAIN when
 * no acceptor runs (the caller still owns src). */
int ic_server_adopt(struct ic_source *src);
/* The policy a container's requests use right now; call under rcu_read_lock. */
const struct ic_policy *ic_server_policy_of(const struct ic_conf *conf, const void *container);
/* Merge every thread's counters. Any thread. */
void ic_server_stats(struct ic_stats *out);

/* acceptor.c / worker.c thread bodies. */
void *ic_acceptor_main(void *arg);
void *ic_worker_main(void *arg);
void ic_acceptor_hand_over(struct ic_acceptor *a, struct ic_source *src);
/* Drop the acceptor's reference on a source (listener or LXC connection). Any thread. */
void ic_source_put(struct ic_source *src);
/* Acceptor thread: a request from the cache, and its return on a failure before queueing. */
struct ic_request *ic_request_get(struct ic_acceptor *a);
void ic_request_unget(struct ic_acceptor *a, struct ic_request *req);
/* Acceptor thread: queue req (received now) on this CPU's queue; same returns as
 * ic_lxc_receive. */
int ic_request_queue(struct ic_acceptor *a, struct ic_request *req, struct ic_topology *topo,
		     const struct ic_conf *conf);
void ic_request_release(struct ic_request *req);
/* Move req from state `from` to `to`; false when another thread moved it first. Any thread. */
bool ic_request_move(struct ic_request *req, enum ic_req_state from, enum ic_req_state to);
/* Answer a request we will not serve (deadline, full queue) with its policy's failure answer;
 * the caller moved it to IC_REQ_DONE and still releases it. conf: referenced or under
 * rcu_read_lock. */
void ic_request_fail(struct ic_stats *st, struct ic_request *req, const struct ic_conf *conf);
/* Run-to-completion: the acceptor that received req answers it itself (no hand-off), for fast
 * handlers while its CPU's queue is empty. Acceptor threads, under rcu_read_lock. */
void ic_request_serve_inline(struct ic_stats *st, const struct ic_conf *conf,
			     struct ic_request *req);

/* Config snapshots outlive an RCU read section only through a reference: handlers may block,
 * and must not do so inside one. ref: under rcu_read_lock (or holding a reference). put: any
 * thread, NULL allowed; the last reference frees. */
void ic_server_conf_ref(struct ic_conf *conf);
void ic_server_conf_put(struct ic_conf *conf);
/* Wake one sleeping worker whose home is not `except`, if any sleeps. Any thread. */
void ic_server_wake_idle(unsigned except);
/* Main thread, periodically: answer queued requests past their deadline (failure answer). */
void ic_server_sweep(void);

/* Front ends and control: threads.c starts them from ic_server_init. */
int ic_front_oci_start(const char *path, const char *lxc_path);
void ic_front_oci_stop(void);
int ic_control_start(const char *path);
void ic_control_stop(void);

#endif
