/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_SERVER_REGISTRY_H
#define IC_SERVER_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>
#include <urcu.h>
#include <urcu/rculfhash.h>

#include "common/conf.h"
#include "handlers/handlers.h"

/* A container: what one front end registered under one id. In the registry's cds_lfht while it
 * has listeners; freed through call_rcu when the last reference goes. */
struct ic_container {
	struct cds_lfht_node node;
	struct rcu_head rcu;
	int refs;	 /* atomic: one per source, one per lookup in progress */
	int n_listeners; /* atomic: sources (listeners, LXC connections) serving it */
	int inflight;	 /* atomic: its requests received and not yet released (fairness cap) */
	uint64_t created_ns;
	char policy_name[IC_POLICY_NAME_MAX];
	struct ic_policy *own_policy; /* from container metadata, NULL: use policy_name */
	uint64_t requests; /* atomic, relaxed: per-container count for `interceptctl containers` */
	bool no_policy_logged; /* atomic: its policy is missing, and that was logged */
	struct ic_container_info info;
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
/* The policy ct's requests use under snapshot conf: its own (from metadata), else the one it
 * names (NULL when conf has none of that name). Any thread, conf referenced or under
 * rcu_read_lock. */
const struct ic_policy *ic_container_policy(const struct ic_container *ct,
					    const struct ic_conf *conf);
/* Main thread, every sweep: the summary line of each container whose log budget suppressed
 * lines in an interval now over, so that the count is told even when the flood stops. */
void ic_registry_flush_logs(void);
/* Call under rcu_read_lock; the callback must not block. */
void ic_registry_foreach(void (*fn)(struct ic_container *ct, void *data), void *data);
unsigned long ic_registry_count(void);

#endif
