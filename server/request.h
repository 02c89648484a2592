/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_SERVER_REQUEST_H
#define IC_SERVER_REQUEST_H

#include <linux/seccomp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <urcu/lfstack.h>
#include <urcu/wfcqueue.h>

#include "handlers/table.h"
#include "server/queue.h"

struct ic_conf;
struct ic_container;
struct ic_journal_slot;
struct ic_policy;
struct ic_source;
struct ic_stats;
struct ic_topology;

/* Who answers a request, as a state that only moves forward (compare-and-swap):
 * QUEUED -> SERVING (a worker dequeued it) -> ACTING (its side effect begins) -> DONE, or
 * QUEUED/SERVING -> DONE by the deadline sweeper with the failure answer. ACTING is the point
 * of no return: after it only the worker answers, so nothing happens after a failure answer.
 * (doc/design.md §4.4) */
enum ic_req_state {
	IC_REQ_QUEUED = 0,
	IC_REQ_SERVING = 1,
	IC_REQ_ACTING = 2,
	IC_REQ_DONE = 3,
	_IC_REQ_STATE_MAX
};

struct ic_request;

/* An acceptor's own supply of requests: never malloc per request. The owner takes from
 * free_list; any thread gives back through `returned`, a lock-free stack. */
struct ic_request_cache {
	struct cds_lfs_stack returned;
	struct ic_request *free_list; /* the owner's alone */
	unsigned n_free;
	/* Journal slots [slot_next, slot_end) not yet given to a request object. */
	unsigned slot_next, slot_end;
};

/* One notification from its receipt to its answer. */
struct ic_request {
	struct ic_queue_node qnode; /* keyed by its container: queues take turns between them */
	struct cds_lfs_node fnode;
	struct ic_request *next_free;
	struct ic_request_cache *origin;
	struct ic_source *src;	      /* reference held */
	struct ic_container *ct;      /* src's, alive while src is */
	struct ic_journal_slot *slot; /* this object's for life; NULL: not journaled */
	uint32_t attempts;	      /* servers that received it before this one (journal) */
	/* Resolved once, on arrival. policy belongs to the snapshot of generation conf_gen (or to
	 * the container), and is used only with that snapshot in hand. */
	const struct ic_syscall *sys; /* NULL: no row of ours */
	enum ic_abi abi;
	const struct ic_policy *policy;
	uint64_t conf_gen;
	uint64_t t_recv_ns;
	uint64_t deadline_ns;
	bool timed_out; /* the deadline passed before the answer: failure answer, no side effect */
	int state;	/* atomic: enum ic_req_state */
	/* The LXC front end's, for its reply: /proc/<pid>, /proc/<pid>/mem and the listener as
	 * sent (-1: not sent), and the header to echo. */
	struct {
		int fds[3];
		unsigned char hdr[32];
	} lxc;
	struct seccomp_notif notif;
};

/* The request a worker is running, for the deadline sweeper; the lock keeps it from being
 * released while the sweeper looks at it. */
struct ic_serving {
	pthread_mutex_t lock;
	struct ic_request *req;
};

/* The cache's requests journal into slots [slot_base, slot_base + n_slots). */
void ic_request_cache_init(struct ic_request_cache *c, unsigned slot_base, unsigned n_slots);
/* Frees what the cache holds; no request of it may still be out. */
void ic_request_cache_fini(struct ic_request_cache *c);

/* Acceptor thread (the cache's owner): a blank request, NULL when out of memory; and its
 * return when recv found nothing to serve. */
struct ic_request *ic_request_get(struct ic_request_cache *c);
void ic_request_unget(struct ic_request *req);

/* Acceptor thread, under rcu_read_lock with conf the current snapshot: recv filled req from
 * src. Takes a reference on src, starts the clock and resolves the syscall row, ABI and
 * policy once for the request's whole life. */
void ic_request_begin(struct ic_request *req, struct ic_source *src, const struct ic_conf *conf,
		      struct ic_stats *st);
/* Whether the request may be served on the acceptor that received it. */
bool ic_request_fast(const struct ic_request *req);
/* The policy of req's container under snapshot conf (referenced or under rcu_read_lock). */
const struct ic_policy *ic_request_policy(const struct ic_request *req, const struct ic_conf *conf);

/* Acceptor thread, under rcu_read_lock: queue req on queue q of topo. Returns q when that queue
 * went from empty to non-empty (the caller wakes its worker after its batch), else -1; a full
 * queue gives the failure answer at once. */
int ic_request_queue(struct ic_request *req, struct ic_topology *topo, unsigned q,
		     const struct ic_conf *conf, struct ic_stats *st);

/* Run req's handler and answer it, then release it. A worker outside any RCU read-side section
 * (a handler may block) with conf pinned by reference, serving its slot for the sweeper; or an
 * acceptor serving a fast request in place (serving NULL), under rcu_read_lock. */
void ic_request_serve(struct ic_request *req, const struct ic_conf *conf, struct ic_stats *st,
		      struct ic_serving *serving);

/* Main thread, under rcu_read_lock with conf the current snapshot: give the failure answer to
 * the requests past their deadline that are still queued on q or still in serving's handler
 * before their side effect. */
void ic_request_sweep_queue(struct ic_queue *q, uint64_t now, const struct ic_conf *conf,
			    struct ic_stats *st);
void ic_request_sweep_serving(struct ic_serving *serving, uint64_t now, const struct ic_conf *conf,
			      struct ic_stats *st);

/* Main thread, at start after a crash, with conf the current snapshot: req was received by a
 * server before (req->attempts of them), from src, and is begun again here. It is served again
 * when that is harmless: no side effect began, or its row may run twice (sysinfo), and no
 * earlier server died with it (it may be what kills them). Otherwise the failure answer.
 * Returns whether it is served again. */
bool ic_request_recover(struct ic_request *req, bool side_effect_began, struct ic_topology *topo,
			unsigned q, const struct ic_conf *conf, struct ic_stats *st);

/* Any thread: req goes back to the cache it came from, its source reference dropped. */
void ic_request_release(struct ic_request *req);

#endif
