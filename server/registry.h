/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_SERVER_REGISTRY_H
#define IC_SERVER_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>
#include <urcu.h>
#include <urcu/lfstack.h>
#include <urcu/list.h>
#include <urcu/rculfhash.h>

#include "common/conf.h"
#include "handlers/handlers.h"

struct ic_acceptor;

/* A container: what one front end registered under one id. In the registry's cds_lfht while it
 * has listeners; freed through call_rcu when the last reference goes. */
struct ic_container {
	struct cds_lfht_node node;
	struct rcu_head rcu;
	int refs;	 /* atomic: one per listener, one per lookup in progress */
	int n_listeners; /* atomic */
	int inflight;	 /* atomic: its requests received and not yet released (fairness cap) */
	uint64_t created_ns;
	char policy_name[IC_POLICY_NAME_MAX];
	struct ic_policy *own_policy; /* from container metadata, NULL: use policy_name */
	uint64_t requests; /* atomic, relaxed: per-container count for `interceptctl containers` */
	struct ic_container_info info;
};

enum ic_source_kind {
	IC_SOURCE_LISTENER = 0, /* a seccomp listener fd (OCI front end): we RECV and SEND */
	IC_SOURCE_LXC = 1,	/* an LXC monitor's connection: datagrams in, datagrams out */
	_IC_SOURCE_MAX
};

/* What an acceptor watches. Owned by one acceptor thread at a time (its epoll set and list);
 * handed over through the acceptor's inbox. Embedded first in ic_listener and ic_lxc_conn. */
struct ic_source {
	enum ic_source_kind kind;
	int fd;
	struct ic_acceptor *owner; /* written by the owning acceptor only */
	struct cds_list_head link; /* in owner's list; owner thread only */
	struct cds_lfs_node inbox; /* hand-over to an acceptor */
};

/* A listener fd; requests in flight hold references so the fd stays open until the last
 * answer. */
struct ic_listener {
	struct ic_source src;
	int refs;		 /* atomic: 1 while registered with an acceptor + 1 per request */
	struct ic_container *ct; /* reference held */
	bool paused; /* owner acceptor only: out of its epoll set until ct->inflight drops */
};

/* Main thread, before any other registry call. */
int ic_registry_init(void);
void ic_registry_fini(void);
/* Any registered RCU reader thread. Find or create the container id; returns it with a
 * reference held, and *created tells which. init_pid is used on creation only. */
int ic_registry_get(const char *id, pid_t init_pid, const char *policy_name,
		    const struct ic_policy *own_policy, struct ic_container **ret, bool *created);
/* Any RCU-registered thread. Drops a reference; the last one unlinks and frees after a grace
 * period. */
void ic_container_put(struct ic_container *ct);
void ic_container_ref(struct ic_container *ct);
/* Call under rcu_read_lock; the callback must not block. */
void ic_registry_foreach(void (*fn)(struct ic_container *ct, void *data), void *data);
unsigned long ic_registry_count(void);

struct ic_listener *ic_listener_new(int fd, struct ic_container *ct);
/* The listener of a source of kind IC_SOURCE_LISTENER. */
static inline struct ic_listener *ic_listener_of(struct ic_source *src)
{
	return caa_container_of(src, struct ic_listener, src);
}
void ic_listener_ref(struct ic_listener *l);
/* Last reference closes the fd and drops the container reference. Any RCU-registered thread. */
void ic_listener_put(struct ic_listener *l);

#endif
