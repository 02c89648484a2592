/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cgroup.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/macros.h"
#include "server/listener.h"
#include "server/registry.h"
#include "server/source.h"

static void setup(void)
{
	/* "container gone" lines on every put would drown the report. */
	ic_log_set_level(IC_LOG_ERROR);
	rcu_register_thread();
	/* Only for new containers' cgroup paths: without it they stay empty, as documented. */
	(void)ic_cgroup_init();
	cr_assert_eq(ic_registry_init(), 0);
}

static void teardown(void)
{
	/* Containers are freed by call_rcu; the table must not go before they leave it. */
	rcu_barrier();
	ic_registry_fini();
	rcu_unregister_thread();
}

TestSuite(registry, .init = setup, .fini = teardown, .timeout = 120);

static int refs_of(struct ic_container *ct)
{
	return __atomic_load_n(&ct->refs, __ATOMIC_RELAXED);
}

static struct ic_container *get_ok(const char *id, bool expect_created)
{
	struct ic_container *ct = NULL;
	bool created = !expect_created;

	cr_assert_eq(ic_registry_get(id, getpid(), "default", NULL, &ct, &created), 0);
	cr_assert_not_null(ct);
	cr_assert_eq(created, expect_created, "%s: created=%d", id, created);
	cr_assert_str_eq(ct->info.id, id);
	return ct;
}

/* Count after every put has gone through its grace period. */
static unsigned long settled_count(void)
{
	rcu_barrier();
	return ic_registry_count();
}

Test(registry, get_creates_then_finds_same_container)
{
	struct ic_container *a = get_ok("c1", true), *b;

	cr_assert_eq(refs_of(a), 1);
	cr_assert_eq(a->info.init_pid, getpid());
	cr_assert_str_eq(a->policy_name, "default");
	cr_assert_null(a->own_policy);
	b = get_ok("c1", false);
	cr_assert_eq(b, a);
	cr_assert_eq(refs_of(a), 2);
	cr_assert_eq(ic_registry_count(), 1);
	ic_container_put(b);
	cr_assert_eq(refs_of(a), 1);
	cr_assert_eq(ic_registry_count(), 1, "a put that is not the last must not unlink");
	ic_container_put(a);
	cr_assert_eq(settled_count(), 0);
}

Test(registry, distinct_ids_are_distinct)
{
	struct ic_container *a = get_ok("alpha", true);
	struct ic_container *b = get_ok("beta", true);
	/* A prefix of another id is another id. */
	struct ic_container *c = get_ok("alph", true);

	cr_assert_neq(a, b);
	cr_assert_neq(a, c);
	cr_assert_neq(b, c);
	cr_assert_str_eq(a->info.id, "alpha");
	cr_assert_str_eq(b->info.id, "beta");
	cr_assert_str_eq(c->info.id, "alph");
	cr_assert_eq(refs_of(a), 1);
	cr_assert_eq(refs_of(b), 1);
	cr_assert_eq(ic_registry_count(), 3);
	ic_container_put(a);
	ic_container_put(b);
	ic_container_put(c);
	cr_assert_eq(settled_count(), 0);
}

Test(registry, last_put_removes_from_table)
{
	struct ic_container *ct = get_ok("gone-soon", true);

	ic_container_ref(ct);
	cr_assert_eq(refs_of(ct), 2);
	ic_container_put(ct);
	cr_assert_eq(settled_count(), 1);
	ic_container_put(ct);
	cr_assert_eq(settled_count(), 0);
	/* The id is free again: a new get builds a fresh container with one reference. */
	ct = get_ok("gone-soon", true);
	cr_assert_eq(refs_of(ct), 1);
	cr_assert_eq(ic_registry_count(), 1);
	ic_container_put(ct);
	cr_assert_eq(settled_count(), 0);
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

Test(registry, listener_holds_container_until_last_put)
{
	struct ic_container *ct = get_ok("with-listener", true), *again;
	struct ic_source *l;
	int p[2];

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	/* The listener takes over the reference ic_registry_get returned. */
	cr_assert_eq(ic_listener_new(p[0], ct, &l), 0);
	cr_assert_eq(l->ct, ct);
	cr_assert_eq(ct->n_listeners, 1);
	cr_assert_eq(refs_of(ct), 1);

	/* A request in flight. */
	ic_source_ref(l);
	ic_source_put(l);
	cr_assert(fd_open(p[0]), "closed while a reference was left");
	cr_assert_eq(settled_count(), 1);

	/* Another lookup finds the very container the listener holds. */
	again = get_ok("with-listener", false);
	cr_assert_eq(again, ct);
	ic_container_put(again);
	cr_assert_eq(settled_count(), 1, "the listener's reference must keep the container");
	cr_assert(fd_open(p[0]));

	ic_source_put(l);
	cr_assert_not(fd_open(p[0]), "the last put must close the listener fd");
	cr_assert_eq(errno, EBADF);
	cr_assert_eq(settled_count(), 0);
	close(p[1]);
}

Test(registry, own_policy_is_copied)
{
	char err[IC_CONF_ERR_MAX] = "";
	struct ic_conf *conf = NULL;
	struct ic_policy mine;
	struct ic_container *ct = NULL;
	char name[IC_POLICY_NAME_MAX] = "strict";
	bool created = false;
	const struct ic_policy *def;

	cr_assert_eq(ic_conf_load(NULL, false, &conf, err), 0, "%s", err);
	def = ic_conf_policy(conf, "default");
	cr_assert_not_null(def);
	cr_assert_eq(ic_policy_copy(&mine, def), 0);
	cr_assert_eq(ic_policy_set(&mine, "security.syscalls.intercept.mount", "true", err), 0,
		     "%s", err);
	cr_assert_eq(
	    ic_policy_set(&mine, "security.syscalls.intercept.mount.allowed", "ext4,xfs", err), 0,
	    "%s", err);
	cr_assert_eq(ic_policy_set(&mine, "sysinfo.cache_ms", "1234", err), 0, "%s", err);

	cr_assert_eq(ic_registry_get("meta", getpid(), name, &mine, &ct, &created), 0);
	cr_assert(created);
	cr_assert_not_null(ct->own_policy);
	cr_assert_neq(ct->own_policy, &mine);

	/* The front end reuses and frees its buffers as soon as get returns. */
	cr_assert_eq(ic_policy_set(&mine, "security.syscalls.intercept.mount", "false", err), 0);
	cr_assert_eq(
	    ic_policy_set(&mine, "security.syscalls.intercept.mount.allowed", "btrfs", err), 0);
	cr_assert_eq(ic_policy_set(&mine, "sysinfo.cache_ms", "7", err), 0);
	strcpy(name, "lax");
	ic_policy_done(&mine);
	memset(&mine, 0x5a, sizeof(mine));

	cr_assert(ct->own_policy->mount);
	cr_assert_str_eq(ct->own_policy->mount_allowed, "ext4,xfs");
	cr_assert_eq(ct->own_policy->sysinfo_cache_ms, 1234);
	cr_assert_eq(ct->own_policy->sysinfo, def->sysinfo);
	cr_assert_str_eq(ct->policy_name, "strict");

	ic_container_put(ct);
	cr_assert_eq(settled_count(), 0);
	ic_conf_free(conf);
}

#define NIDS	     64
#define READERS	     4
#define WRITERS	     2
#define READER_ITERS 200000
#define WRITER_ITERS 20000
#define WRITER_HOLD  16
#define RUN_MS	     1000

struct churn {
	pthread_barrier_t start;
	uint64_t until_ms;
	unsigned long errors;  /* atomic: a get failed */
	unsigned long torn;    /* atomic: a container did not match its id or fields */
	unsigned long split;   /* atomic: an id held alive yet a get found another container */
	unsigned long gets;    /* atomic */
	unsigned long created; /* atomic */
	unsigned long visited; /* atomic: entries seen by foreach */
};

struct churn_arg {
	struct churn *c;
	unsigned seed;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void id_of(unsigned n, char *buf, size_t len)
{
	snprintf(buf, len, "ct-%02u", n);
}

static bool consistent(const struct ic_container *ct, const char *id)
{
	return (!id || strcmp(ct->info.id, id) == 0) && strncmp(ct->info.id, "ct-", 3) == 0 &&
	       strlen(ct->info.id) == 5 && ct->info.init_pid == getpid() &&
	       strcmp(ct->policy_name, "default") == 0 && !ct->own_policy;
}

static struct ic_container *churn_get(struct churn *c, const char *id)
{
	struct ic_container *ct = NULL;
	bool created = false;

	if (ic_registry_get(id, getpid(), "default", NULL, &ct, &created) < 0 || !ct) {
		__atomic_add_fetch(&c->errors, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	__atomic_add_fetch(&c->gets, 1, __ATOMIC_RELAXED);
	if (created)
		__atomic_add_fetch(&c->created, 1, __ATOMIC_RELAXED);
	if (!consistent(ct, id) || __atomic_load_n(&ct->refs, __ATOMIC_RELAXED) < 1)
		__atomic_add_fetch(&c->torn, 1, __ATOMIC_RELAXED);
	return ct;
}

static void check_entry(struct ic_container *ct, void *data)
{
	struct churn *c = data;

	/* Dying entries (refs 0) may still be visible; their memory must stay valid. */
	if (!consistent(ct, NULL))
		__atomic_add_fetch(&c->torn, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&c->visited, 1, __ATOMIC_RELAXED);
}

static void *reader(void *data)
{
	struct churn_arg *a = data;
	struct churn *c = a->c;
	char id[16];

	rcu_register_thread();
	pthread_barrier_wait(&c->start);
	for (int i = 0; i < READER_ITERS && now_ms() < c->until_ms; i++) {
		struct ic_container *ct;

		id_of(rand_r(&a->seed) % NIDS, id, sizeof(id));
		ct = churn_get(c, id);
		if (i % 64 == 0) {
			rcu_read_lock();
			ic_registry_foreach(check_entry, c);
			rcu_read_unlock();
		}
		ic_container_put(ct);
	}
	rcu_unregister_thread();
	return NULL;
}

/* Holds several containers at once so that ids come and go while readers look them up. While
 * it holds one, the id has exactly one live container: a second get must return the same one
 * (a container revived after its count reached zero would break this). */
static void *writer(void *data)
{
	struct churn_arg *a = data;
	struct churn *c = a->c;
	struct ic_container *held[WRITER_HOLD];
	char id[16];

	rcu_register_thread();
	pthread_barrier_wait(&c->start);
	for (int i = 0; i < WRITER_ITERS && now_ms() < c->until_ms; i++) {
		for (int h = 0; h < WRITER_HOLD; h++) {
			id_of(rand_r(&a->seed) % NIDS, id, sizeof(id));
			held[h] = churn_get(c, id);
		}
		sched_yield();
		for (int h = 0; h < WRITER_HOLD; h++) {
			struct ic_container *again;

			if (!held[h])
				continue;
			again = churn_get(c, held[h]->info.id);
			if (again != held[h])
				__atomic_add_fetch(&c->split, 1, __ATOMIC_RELAXED);
			ic_container_put(again);
		}
		for (int h = 0; h < WRITER_HOLD; h++)
			ic_container_put(held[h]);
	}
	rcu_unregister_thread();
	return NULL;
}

Test(registry, concurrent_readers_see_consistent_entries_while_writers_add_and_remove)
{
	static struct churn c;
	struct churn_arg args[READERS + WRITERS];
	pthread_t th[READERS + WRITERS];

	cr_assert_eq(pthread_barrier_init(&c.start, NULL, READERS + WRITERS + 1), 0);
	for (unsigned i = 0; i < READERS + WRITERS; i++) {
		args[i] = (struct churn_arg){.c = &c, .seed = i + 1};
		cr_assert_eq(pthread_create(&th[i], NULL, i < READERS ? reader : writer, &args[i]),
			     0);
	}
	c.until_ms = now_ms() + RUN_MS;
	pthread_barrier_wait(&c.start);
	for (unsigned i = 0; i < READERS + WRITERS; i++)
		pthread_join(th[i], NULL);

	cr_assert_eq(c.errors, 0, "%lu gets failed", c.errors);
	cr_assert_eq(c.torn, 0, "%lu inconsistent containers seen", c.torn);
	cr_assert_eq(c.split, 0, "%lu times one id had two live containers", c.split);
	cr_assert_gt(c.gets, 0);
	cr_assert_gt(c.created, NIDS, "ids were never removed and re-added (%lu created)",
		     c.created);
	cr_assert_eq(settled_count(), 0);
	pthread_barrier_destroy(&c.start);
}

struct visit {
	unsigned seen[10];
	unsigned others;
};

static void mark(struct ic_container *ct, void *data)
{
	struct visit *v = data;
	unsigned n;

	if (sscanf(ct->info.id, "each-%u", &n) == 1 && n < ARRAY_SIZE(v->seen))
		v->seen[n]++;
	else
		v->others++;
}

Test(registry, foreach_visits_every_container)
{
	struct ic_container *cts[10];
	struct visit v = {0};
	char id[16];

	for (unsigned i = 0; i < ARRAY_SIZE(cts); i++) {
		snprintf(id, sizeof(id), "each-%u", i);
		cts[i] = get_ok(id, true);
	}
	rcu_read_lock();
	ic_registry_foreach(mark, &v);
	rcu_read_unlock();
	for (unsigned i = 0; i < ARRAY_SIZE(cts); i++)
		cr_assert_eq(v.seen[i], 1, "each-%u visited %u times", i, v.seen[i]);
	cr_assert_eq(v.others, 0);
	cr_assert_eq(ic_registry_count(), ARRAY_SIZE(cts));
	for (unsigned i = 0; i < ARRAY_SIZE(cts); i++)
		ic_container_put(cts[i]);
	cr_assert_eq(settled_count(), 0);
}
