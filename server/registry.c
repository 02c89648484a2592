/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macros.h"
#include "common/proc.h"
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
	pthread_mutex_destroy(&ct->info.si_lock);
	pthread_mutex_destroy(&ct->info.dev_lock);
	ic_cgroup_done(&ct->info.cgroup);
	if (ct->own_policy) {
		ic_policy_done(ct->own_policy);
		free(ct->own_policy);
	}
	free(ct);
}

static void container_free_rcu(struct rcu_head *head)
{
	container_free(caa_container_of(head, struct ic_container, rcu));
}

static struct ic_container *container_new(const char *id, pid_t init_pid, const char *policy_name,
					  const struct ic_policy *own_policy)
{
	struct ic_container *ct = calloc(1, sizeof(*ct));

	if (!ct)
		return NULL;
	cds_lfht_node_init(&ct->node);
	ct->refs = 1;
	ct->created_ns = ic_now_ns();
	snprintf(ct->info.id, sizeof(ct->info.id), "%s", id);
	snprintf(ct->policy_name, sizeof(ct->policy_name), "%s", policy_name);
	ct->info.init_pid = init_pid;
	pthread_mutex_init(&ct->info.si_lock, NULL);
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
	pthread_mutex_init(&ct->info.dev_lock, NULL);
	ct->info.dev_usable = -1;
	return ct;
}

/* Take a reference unless the count already reached zero (the container is on its way out). */
static bool ref_unless_zero(struct ic_container *ct)
{
	int v = __atomic_load_n(&ct->refs, __ATOMIC_RELAXED);

	while (v > 0)
		if (__atomic_compare_exchange_n(&ct->refs, &v, v + 1, false, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return true;
	return false;
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

			if (ref_unless_zero(ct)) {
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
	__atomic_add_fetch(&ct->refs, 1, __ATOMIC_RELAXED);
}

void ic_container_put(struct ic_container *ct)
{
	if (!ct || __atomic_sub_fetch(&ct->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	rcu_read_lock();
	(void)cds_lfht_del(containers, &ct->node);
	rcu_read_unlock();
	log_info("container %s: gone", ct->info.id);
	call_rcu(&ct->rcu, container_free_rcu);
}

void ic_registry_foreach(void (*fn)(struct ic_container *ct, void *data), void *data)
{
	struct cds_lfht_iter iter;
	struct ic_container *ct;

	cds_lfht_for_each_entry (containers, &iter, ct, node)
		fn(ct, data);
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

struct ic_listener *ic_listener_new(int fd, struct ic_container *ct)
{
	struct ic_listener *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->src.kind = IC_SOURCE_LISTENER;
	l->src.fd = fd;
	l->refs = 1;
	l->ct = ct;
	CDS_INIT_LIST_HEAD(&l->src.link);
	__atomic_add_fetch(&ct->n_listeners, 1, __ATOMIC_RELAXED);
	return l;
}

void ic_listener_ref(struct ic_listener *l)
{
	__atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED);
}

void ic_listener_put(struct ic_listener *l)
{
	if (!l || __atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	close(l->src.fd);
	__atomic_sub_fetch(&l->ct->n_listeners, 1, __ATOMIC_RELAXED);
	ic_container_put(l->ct);
	free(l);
}
