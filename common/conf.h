/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_COMMON_CONF_H
#define IC_COMMON_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Follows ./configure --sysconfdir: the build passes SYSCONFDIR to every file. */
#define IC_CONF_DEFAULT_PATH SYSCONFDIR "/interceptd/interceptd.conf"
#define IC_THREADS_AUTO	     0
#define IC_ACCEPTORS_MAX     64
#define IC_WORKERS_MAX	     1024
#define IC_DEADLINE_MS_MAX   20000
#define IC_POLICY_NAME_MAX   64
#define IC_CONF_ERR_MAX	     512

/* What a request gets when we cannot serve it: past its deadline, a full queue, an internal error.
 */
enum ic_failure_kind { IC_FAILURE_CONTINUE = 0, IC_FAILURE_ERRNO = 1, _IC_FAILURE_MAX };

struct ic_failure {
	enum ic_failure_kind kind;
	int err; /* positive errno when kind is IC_FAILURE_ERRNO */
};

struct ic_policy {
	char name[IC_POLICY_NAME_MAX];
	bool mknod;
	bool setxattr;
	bool sysinfo;
	bool mount;
	bool mount_shift;
	bool mount_allow_dev_suid;
	bool bpf;
	bool bpf_devices;
	bool sched_setscheduler;
	char *mount_allowed; /* comma list of fstypes, "" when none */
	char *mount_fuse;    /* comma list of fstype=helper, "" when none */
	unsigned sched_max_rt_priority;
	unsigned sysinfo_cache_ms;
	unsigned inflight_max; /* requests of one container at once, 0: no cap */
	struct ic_failure failure;
};

struct ic_server_conf {
	unsigned acceptors; /* IC_THREADS_AUTO or 1..64 */
	unsigned workers;   /* IC_THREADS_AUTO or 1..1024 */
	uint64_t queue_capacity;
	unsigned deadline_ms;
	char *oci_socket;
	char *lxc_socket;
	char *control_socket;
	bool lxc_allow_unknown_cookie;
	bool inline_fast; /* acceptors answer fast requests themselves when their queue is empty */
	int log_level;	  /* enum ic_log_level */
	int log_target;	  /* enum ic_log_target */
	unsigned log_ratelimit_burst; /* lines per container per interval, 0: no limit */
	unsigned log_ratelimit_interval_ms;
};

/* An immutable snapshot once loaded: readers never see it change. */
struct ic_conf {
	int refs;	     /* for the daemon's snapshot references; 1 when loaded */
	uint64_t generation; /* set by the daemon when it publishes the snapshot; never reused */
	char *path;	     /* NULL when built from defaults only */
	struct ic_server_conf server;
	struct ic_policy *policies;
	size_t n_policies;
};

/* Load PATH (NULL: defaults only; a missing file is an error only if must_exist). On failure
 * returns -errno and writes one line naming file, line and key into err. */
int ic_conf_load(const char *path, bool must_exist, struct ic_conf **ret,
		 char err[IC_CONF_ERR_MAX]);
struct ic_conf *ic_conf_free(struct ic_conf *conf);
/* Snapshot references (handlers may block, so a worker pins the snapshot it serves with). Any
 * thread; unref accepts NULL, and the last reference frees. */
void ic_conf_ref(struct ic_conf *conf);
void ic_conf_unref(struct ic_conf *conf);
const struct ic_policy *ic_conf_policy(const struct ic_conf *conf, const char *name);

/* Whether key is one of the [policy NAME] keys. */
bool ic_policy_key_known(const char *key);
/* Set one policy key (the same keys as a [policy NAME] section). Used for container metadata. */
int ic_policy_set(struct ic_policy *p, const char *key, const char *value,
		  char err[IC_CONF_ERR_MAX]);
/* Deep copy into dst (dst's strings are owned afterwards); free its strings with ic_policy_done. */
int ic_policy_copy(struct ic_policy *dst, const struct ic_policy *src);
void ic_policy_done(struct ic_policy *p);

/* --print-keys: every row of the key tables, [server] then [policy NAME], as
 * "name = default ; description", marking the server keys only a restart changes. */
void ic_conf_dump_keys(FILE *f);
/* --print-example: tools/interceptd.conf.example, generated from the same rows, so that the
 * shipped example cannot drift from the table (a test compares them). */
void ic_conf_dump_example(FILE *f);
unsigned ic_conf_effective_threads(unsigned configured, unsigned ncpu);

#endif
