/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macros.h"
#include "common/proc.h"
#include "common/ref.h"
#include "common/tsan.h"
#include "server/registry.h"

static struct cds_lfht *containers;

/* FNV-1a: ids are short and chosen by the runtime, the table only needs spread. */
static unsigned long id_hash(const char *id)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ULL;
	return (unsigned long)h;
}

static int id_match(struct cds_lfht_node *node, const void *key)
{
	return strcmp(caa_container_of(node, struct ic_container, node)->info.id, key) == 0;
}

int ic_registry_init(void)
{
	containers = cds_lfht_new(64, 64, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
	return containers ? 0 : -ENOMEM;
}

void ic_registry_fini(void)
{
	if (containers && cds_lfht_destroy(containers, NULL) == 0)
		containers = NULL;
}

static void container_free(struct ic_container *ct)
{
	if (!ct)
		return;
	ic_syscall_state_fini(ct->info.state);
	ic_cgroup_done(&ct->info.cgroup);
	if (ct->own_policy) {
		ic_policy_done(ct->own_policy);
		free(ct->own_policy);
	}
	free(ct);
}

static void container_free_rcu(struct rcu_head *head)
{
	IC_RCU_CALLBACK_BEGIN(head);
	container_free(caa_container_of(head, struct ic_container, rcu));
}

static struct ic_container *container_new(const char *id, pid_t init_pid, const char *policy_name,
					  const struct ic_policy *own_policy)
{
	/* The handlers' state follows the container in the same block. */
	size_t head =
	    (sizeof(struct ic_container) + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
	struct ic_container *ct = calloc(1, head + ic_syscall_state_size());

	if (!ct)
		return NULL;
	ct->info.state = (char *)ct + head;
	ic_syscall_state_init(ct->info.state);
	cds_lfht_node_init(&ct->node);
	ct->refs = 1;
	ct->created_ns = ic_now_ns();
	snprintf(ct->info.id, sizeof(ct->info.id), "%s", id);
	snprintf(ct->policy_name, sizeof(ct->policy_name), "%s", policy_name);
	ct->info.init_pid = init_pid;
	if (own_policy) {
		ct->own_policy = calloc(1, sizeof(*ct->own_policy));
		if (!ct->own_policy || ic_policy_copy(ct->own_policy, own_policy) < 0) {
			free(ct->own_policy);
			ct->own_policy = NULL;
			container_free(ct);
			return NULL;
		}
	}
	/* Best effort: without them sysinfo answers with host figures and host uptime. */
	if (ic_proc_starttime(init_pid, &ct->info.init_start_ticks) < 0)
		ct->info.init_start_ticks = 0;
	(void)ic_cgroup_of_pid(init_pid, &ct->info.cgroup); /* all unknown on failure */
	/* Without it, mknod and setxattr leave every call to the kernel. */
	if (ic_userns_of(init_pid, &ct->info.userns) < 0)
		ct->info.userns.known = false;
	return ct;
}

int ic_registry_get(const char *id, pid_t init_pid, const char *policy_name,
		    const struct ic_policy *own_policy, struct ic_container **ret, bool *created)
{
	unsigned long hash = id_hash(id);
	struct ic_container *fresh = NULL;

	/* Bounded: a dying container leaves the table right after its count reaches zero. */
	for (int attempt = 0; attempt < 10000; attempt++) {
		struct cds_lfht_iter iter;
		struct cds_lfht_node *node;

		rcu_read_lock();
		cds_lfht_lookup(containers, hash, id_match, id, &iter);
		node = cds_lfht_iter_get_node(&iter);
		if (node) {
			struct ic_container *ct = caa_container_of(node, struct ic_container, node);

			IC_HANDOFF_TAKE(node);
			if (ic_ref_inc_unless_zero(&ct->refs)) {
				rcu_read_unlock();
				container_free(fresh);
				*ret = ct;
				*created = false;
				return 0;
			}
			rcu_read_unlock();
			sched_yield();
			continue;
		}
		if (!fresh) {
			rcu_read_unlock();
			fresh = container_new(id, init_pid, policy_name, own_policy);
			if (!fresh)
				return -ENOMEM;
			continue;
		}
		IC_HANDOFF_PUBLISH(&fresh->node);
		node = cds_lfht_add_unique(containers, hash, id_match, id, &fresh->node);
		rcu_read_unlock();
		if (node == &fresh->node) {
			*ret = fresh;
			*created = true;
			return 0;
		}
	}
	container_free(fresh);
	return -EBUSY;
}

void ic_container_ref(struct ic_container *ct)
{
	ic_ref_inc(&ct->refs);
}

void ic_container_put(struct ic_container *ct)
{
	if (!ct || !ic_ref_dec(&ct->refs))
		return;
	rcu_read_lock();
	(void)cds_lfht_del(containers, &ct->node);
	rcu_read_unlock();
	/* No request of it is left to log: say now what its budget held back. */
	ic_log_ratelimit_flush(&ct->info.log_rl, ct->info.id, true);
	log_info("container %s: gone", ct->info.id);
	IC_HANDOFF_PUBLISH(&ct->rcu);
	call_rcu(&ct->rcu, container_free_rcu);
}

const struct ic_policy *ic_container_policy(const struct ic_container *ct,
					    const struct ic_conf *conf)
{
	return ct->own_policy ? ct->own_policy : ic_conf_policy(conf, ct->policy_name);
}

void ic_registry_foreach(void (*fn)(struct ic_container *ct, void *data), void *data)
{
	struct cds_lfht_iter iter;
	struct ic_container *ct;

	cds_lfht_for_each_entry (containers, &iter, ct, node) {
		IC_HANDOFF_TAKE(&ct->node);
		fn(ct, data);
	}
}

unsigned long ic_registry_count(void)
{
	long before, after;
	unsigned long count;

	rcu_read_lock();
	cds_lfht_count_nodes(containers, &before, &count, &after);
	rcu_read_unlock();
	return count;
}

static void flush_log(struct ic_container *ct, void *data)
{
	ic_log_ratelimit_flush(&ct->info.log_rl, ct->info.id, false);
}

void ic_registry_flush_logs(void)
{
	rcu_read_lock();
	ic_registry_foreach(flush_log, NULL);
	rcu_read_unlock();
}
