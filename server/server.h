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
#include "server/stats.h"

struct ic_listener;
struct ic_acceptor;

/* cds_lfs_for_each_safe for what __cds_lfs_pop_all returned, NULL (empty) included: liburcu's
 * macro takes the address of a member of the NULL head. */
#define IC_LFS_FOR_EACH_SAFE(head, node, next)                                                     \
	for ((node) = (head) ? &(head)->node : NULL; (node) && ((next) = (node)->next, 1);         \
	     (node) = (next))

/* One notification on its way from an acceptor to a worker. Allocated from the acceptor's own
 * cache and given back to it through a lock-free stack, never through malloc per request. */
struct ic_request {
	struct cds_wfcq_node qnode;
	struct cds_lfs_node fnode;
	struct ic_request *next_free;
	struct ic_listener *listener; /* reference held */
	struct ic_acceptor *origin;
	uint64_t t_recv_ns;
	uint64_t deadline_ns;
	bool timed_out; /* the deadline passed before the answer: failure answer, no side effect */
	int claimed;	/* atomic: 1 once a worker or the deadline sweeper owns the answer */
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
	IC_ALIGNED_CACHELINE struct cds_lfs_stack inbox; /* listeners to adopt */
	struct cds_lfs_stack returned;			 /* requests given back by workers */
	int n_listeners;				 /* atomic: for least-loaded choice */

	/* The owner thread's alone. */
	IC_ALIGNED_CACHELINE struct cds_list_head listeners;
	struct ic_request *free_list;
	unsigned n_free;
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
/* Front ends: hand a new listener to the least-loaded acceptor. Takes reload_lock. -EAGAIN when
 * no acceptor runs (the caller still owns l). */
int ic_server_adopt(struct ic_listener *l);
/* The policy a container's requests use right now; call under rcu_read_lock. */
const struct ic_policy *ic_server_policy_of(const struct ic_conf *conf, const void *container);
/* Merge every thread's counters. Any thread. */
void ic_server_stats(struct ic_stats *out);

/* acceptor.c / worker.c thread bodies. */
void *ic_acceptor_main(void *arg);
void *ic_worker_main(void *arg);
void ic_acceptor_hand_over(struct ic_acceptor *a, struct ic_listener *l);
void ic_request_release(struct ic_request *req);
bool ic_request_claim(struct ic_request *req);
/* Answer a claimed request we will not serve (deadline, full queue) with its policy's failure
 * answer; the caller still releases it. conf: under rcu_read_lock or referenced. */
void ic_request_fail(struct ic_stats *st, struct ic_request *req, const struct ic_conf *conf);

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
int ic_front_oci_start(const char *path);
void ic_front_oci_stop(void);
int ic_control_start(const char *path);
void ic_control_stop(void);

#endif
