/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/macros.h"

#define SUFFIX "-f.conf"
#define S10    "xxxxxxxxxx"
#define S50    S10 S10 S10 S10 S10
#define S100   S50 S50

/* The file the current test wrote; the suite's fini removes it even when an assertion fails. */
static char conf_path[64];
static char conf_dir[64];

static void remove_conf(void)
{
	if (conf_path[0])
		unlink(conf_path);
	if (conf_dir[0])
		rmdir(conf_dir);
	conf_path[0] = conf_dir[0] = 0;
}

TestSuite(conf, .fini = remove_conf);

static const char *write_conf(const char *text)
{
	size_t len = strlen(text);
	int fd;

	remove_conf(); /* one file at a time */
	strcpy(conf_path, "/tmp/test-conf-XXXXXX" SUFFIX);
	fd = mkstemps(conf_path, strlen(SUFFIX));
	cr_assert_geq(fd, 0, "mkstemps: %s", strerror(errno));
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	cr_assert_eq(close(fd), 0);
	return conf_path;
}

/* Loads text from a file; returns what ic_conf_load returned. */
static int load_text(const char *text, struct ic_conf **conf, char err[IC_CONF_ERR_MAX])
{
	*conf = NULL;
	return ic_conf_load(write_conf(text), true, conf, err);
}

static struct ic_conf *load_ok(const char *text)
{
	char err[IC_CONF_ERR_MAX];
	struct ic_conf *conf;
	int r = load_text(text, &conf, err);

	cr_assert_eq(r, 0, "ic_conf_load: %d (%s)", r, err);
	cr_assert_not_null(conf);
	return conf;
}

static void expect_policy_defaults(const struct ic_policy *p, bool sysinfo)
{
	cr_expect_not(p->mknod);
	cr_expect_not(p->setxattr);
	cr_expect_eq(p->sysinfo, sysinfo);
	cr_expect_not(p->mount);
	cr_expect_not(p->mount_shift);
	cr_expect_not(p->bpf);
	cr_expect_not(p->bpf_devices);
	cr_expect_not(p->sched_setscheduler);
	cr_expect_str_eq(p->mount_allowed, "");
	cr_expect_str_eq(p->mount_fuse, "");
	cr_expect_eq(p->sched_max_rt_priority, 0);
	cr_expect_eq(p->sysinfo_cache_ms, 200);
	cr_expect_eq(p->failure.kind, IC_FAILURE_CONTINUE);
}

static void expect_server_defaults(const struct ic_server_conf *s)
{
	cr_expect_eq(s->acceptors, IC_THREADS_AUTO);
	cr_expect_eq(s->workers, IC_THREADS_AUTO);
	cr_expect_eq(s->queue_capacity, 65536);
	cr_expect_eq(s->deadline_ms, 5000);
	cr_expect_str_eq(s->oci_socket, "/run/interceptd/oci.sock");
	cr_expect_str_eq(s->lxc_socket, "/run/interceptd/lxc.sock");
	cr_expect_str_eq(s->control_socket, "/run/interceptd/control.sock");
	cr_expect_eq(s->log_level, IC_LOG_INFO);
	cr_expect_eq(s->log_target, IC_LOG_STDERR);
}

static void expect_builtin_defaults(const struct ic_conf *conf)
{
	const struct ic_policy *p;

	expect_server_defaults(&conf->server);
	cr_expect_eq(conf->n_policies, 1);
	p = ic_conf_policy(conf, "default");
	cr_assert_not_null(p);
	cr_expect_str_eq(p->name, "default");
	expect_policy_defaults(p, true);
}

Test(conf, no_file_gives_documented_defaults)
{
	char err[IC_CONF_ERR_MAX];
	struct ic_conf *conf = NULL;

	cr_assert_eq(ic_conf_load(NULL, false, &conf, err), 0, "%s", err);
	cr_assert_not_null(conf);
	cr_expect_null(conf->path);
	expect_builtin_defaults(conf);
	ic_conf_free(conf);
}

Test(conf, missing_optional_file_gives_documented_defaults)
{
	char err[IC_CONF_ERR_MAX];
	struct ic_conf *conf = NULL;

	cr_assert_eq(ic_conf_load("/nonexistent/interceptd.conf", false, &conf, err), 0, "%s", err);
	cr_assert_not_null(conf);
	expect_builtin_defaults(conf);
	ic_conf_free(conf);
}

Test(conf, missing_required_file_is_enoent_naming_the_file)
{
	char err[IC_CONF_ERR_MAX];
	struct ic_conf *conf = NULL;

	cr_assert_eq(ic_conf_load("/nonexistent/interceptd.conf", true, &conf, err), -ENOENT);
	cr_expect_null(conf);
	cr_expect(strstr(err, "/nonexistent/interceptd.conf: cannot open") != NULL, "err: %s", err);
}

Test(conf, directory_as_file_is_an_error)
{
	char err[IC_CONF_ERR_MAX];
	struct ic_conf *conf = NULL;
	int r;

	strcpy(conf_dir, "/tmp/test-conf-XXXXXX");
	cr_assert_not_null(mkdtemp(conf_dir));
	r = ic_conf_load(conf_dir, true, &conf, err);
	cr_expect_lt(r, 0, "a directory loaded as an empty config (r=%d)", r);
	cr_expect(strstr(err, conf_dir) != NULL, "err: '%s'", err);
	ic_conf_free(conf);
}

Test(conf, empty_file_gives_documented_defaults)
{
	struct ic_conf *conf = load_ok("");

	cr_expect_str_eq(conf->path, conf_path);
	expect_builtin_defaults(conf);
	ic_conf_free(conf);
}

Test(conf, spec_example_gives_its_values)
{
	static const char text[] =
	    "[server]\n"
	    "acceptors = auto            ; or 1..64\n"
	    "workers = auto              ; or 1..1024\n"
	    "queue.capacity = 65536      ; per CPU; beyond it: answer the policy's failure "
	    "answer, count it\n"
	    "request.deadline_ms = 5000\n"
	    "oci.socket = /run/interceptd/oci.sock\n"
	    "lxc.socket = /run/interceptd/lxc.sock\n"
	    "control.socket = /run/interceptd/control.sock\n"
	    "log.level = info            ; error|warn|info|debug; logs to stderr or syslog "
	    "(log.target)\n"
	    "\n"
	    "[policy default]\n"
	    "security.syscalls.intercept.mknod = true\n"
	    "security.syscalls.intercept.setxattr = true\n"
	    "security.syscalls.intercept.sysinfo = true\n"
	    "security.syscalls.intercept.mount = false\n"
	    "security.syscalls.intercept.mount.allowed = ext4,xfs\n"
	    "security.syscalls.intercept.mount.fuse = ext2=fuse2fs\n"
	    "security.syscalls.intercept.mount.shift = false\n"
	    "security.syscalls.intercept.bpf = false\n"
	    "security.syscalls.intercept.bpf.devices = false\n"
	    "security.syscalls.intercept.sched_setscheduler = false\n";
	struct ic_conf *conf = load_ok(text);
	const struct ic_policy *p;

	expect_server_defaults(&conf->server);
	cr_expect_eq(conf->n_policies, 1);
	p = ic_conf_policy(conf, "default");
	cr_assert_not_null(p);
	cr_expect(p->mknod);
	cr_expect(p->setxattr);
	cr_expect(p->sysinfo);
	cr_expect_not(p->mount);
	cr_expect_str_eq(p->mount_allowed, "ext4,xfs");
	cr_expect_str_eq(p->mount_fuse, "ext2=fuse2fs");
	cr_expect_not(p->mount_shift);
	cr_expect_not(p->bpf);
	cr_expect_not(p->bpf_devices);
	cr_expect_not(p->sched_setscheduler);
	cr_expect_eq(p->sysinfo_cache_ms, 200);
	cr_expect_eq(p->failure.kind, IC_FAILURE_CONTINUE);
	ic_conf_free(conf);
}

Test(conf, every_server_key_takes_its_value)
{
	struct ic_conf *conf = load_ok("[server]\n"
				       "acceptors = 3\n"
				       "workers = 7\n"
				       "queue.capacity = 1024\n"
				       "request.deadline_ms = 250\n"
				       "oci.socket = /tmp/o.sock\n"
				       "lxc.socket = /tmp/l.sock\n"
				       "control.socket = /tmp/c.sock\n"
				       "log.level = debug\n"
				       "log.target = syslog\n");

	cr_expect_eq(conf->server.acceptors, 3);
	cr_expect_eq(conf->server.workers, 7);
	cr_expect_eq(conf->server.queue_capacity, 1024);
	cr_expect_eq(conf->server.deadline_ms, 250);
	cr_expect_str_eq(conf->server.oci_socket, "/tmp/o.sock");
	cr_expect_str_eq(conf->server.lxc_socket, "/tmp/l.sock");
	cr_expect_str_eq(conf->server.control_socket, "/tmp/c.sock");
	cr_expect_eq(conf->server.log_level, IC_LOG_DEBUG);
	cr_expect_eq(conf->server.log_target, IC_LOG_SYSLOG);
	ic_conf_free(conf);
}

Test(conf, range_limits_are_inclusive)
{
	struct ic_conf *conf =
	    load_ok("[server]\n"
		    "acceptors = 64\n"
		    "workers = 1024\n"
		    "queue.capacity = 16777216\n"
		    "request.deadline_ms = 20000\n"
		    "oci.socket = /" S100 "xxxxxx\n" /* 107 bytes: fits sun_path */
		    "[policy high]\n"
		    "sched.max_rt_priority = 99\n"
		    "sysinfo.cache_ms = 10000\n"
		    "[policy low]\n"
		    "sched.max_rt_priority = 0\n"
		    "sysinfo.cache_ms = 0\n");
	const struct ic_policy *high = ic_conf_policy(conf, "high");
	const struct ic_policy *low = ic_conf_policy(conf, "low");

	cr_expect_eq(conf->server.acceptors, 64);
	cr_expect_eq(conf->server.workers, 1024);
	cr_expect_eq(conf->server.queue_capacity, 16777216);
	cr_expect_eq(conf->server.deadline_ms, 20000);
	cr_expect_eq(strlen(conf->server.oci_socket), 107);
	cr_assert_not_null(high);
	cr_assert_not_null(low);
	cr_expect_eq(high->sched_max_rt_priority, 99);
	cr_expect_eq(high->sysinfo_cache_ms, 10000);
	cr_expect_eq(low->sched_max_rt_priority, 0);
	cr_expect_eq(low->sysinfo_cache_ms, 0);
	ic_conf_free(conf);

	conf = load_ok("[server]\nacceptors = 1\nworkers = 1\nqueue.capacity = 1\n"
		       "request.deadline_ms = 1\n");
	cr_expect_eq(conf->server.acceptors, 1);
	cr_expect_eq(conf->server.workers, 1);
	cr_expect_eq(conf->server.queue_capacity, 1);
	cr_expect_eq(conf->server.deadline_ms, 1);
	ic_conf_free(conf);
}

Test(conf, comments_and_blank_lines_are_ignored)
{
	struct ic_conf *conf = load_ok("; a comment line\n"
				       "# another comment line\n"
				       "\n"
				       "[server] ; the server\n"
				       "  workers   =   4   ; four workers\n"
				       "log.level = warn\t; a tab before the comment\n"
				       "\t\n"
				       "[policy default] ; trailing comment\n"
				       "security.syscalls.intercept.mknod = yes ; LXD spelling\n");
	const struct ic_policy *p = ic_conf_policy(conf, "default");

	cr_expect_eq(conf->server.workers, 4);
	cr_expect_eq(conf->server.log_level, IC_LOG_WARN);
	cr_assert_not_null(p);
	cr_expect(p->mknod);
	ic_conf_free(conf);
}

Test(conf, crlf_line_endings_are_accepted)
{
	struct ic_conf *conf = load_ok("[server]\r\nworkers = 2\r\n[policy a]\r\n"
				       "security.syscalls.intercept.bpf = true\r\n");

	cr_expect_eq(conf->server.workers, 2);
	cr_assert_not_null(ic_conf_policy(conf, "a"));
	cr_expect(ic_conf_policy(conf, "a")->bpf);
	ic_conf_free(conf);
}

Test(conf, failure_answer_takes_continue_or_an_errno_name)
{
	struct ic_conf *conf = load_ok("[policy a]\nfailure.answer = EPERM\n"
				       "[policy b]\nfailure.answer = eacces\n"
				       "[policy c]\nfailure.answer = continue\n"
				       "[policy d]\nfailure.answer = ENOSYS\n");
	const struct ic_policy *a = ic_conf_policy(conf, "a");
	const struct ic_policy *b = ic_conf_policy(conf, "b");
	const struct ic_policy *c = ic_conf_policy(conf, "c");
	const struct ic_policy *d = ic_conf_policy(conf, "d");

	cr_assert(a && b && c && d);
	cr_expect_eq(a->failure.kind, IC_FAILURE_ERRNO);
	cr_expect_eq(a->failure.err, EPERM);
	cr_expect_eq(b->failure.kind, IC_FAILURE_ERRNO);
	cr_expect_eq(b->failure.err, EACCES);
	cr_expect_eq(c->failure.kind, IC_FAILURE_CONTINUE);
	cr_expect_eq(d->failure.kind, IC_FAILURE_ERRNO);
	cr_expect_eq(d->failure.err, ENOSYS);
	ic_conf_free(conf);
}

Test(conf, bool_values_accept_every_spelling)
{
	static const struct {
		const char *v;
		bool want;
	} cases[] = {
	    {"true", true},   {"TRUE", true}, {"yes", true},  {"on", true}, {"1", true},
	    {"false", false}, {"No", false},  {"off", false}, {"0", false},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char text[128];
		struct ic_conf *conf;

		snprintf(text, sizeof(text), "[policy a]\nsecurity.syscalls.intercept.mount = %s\n",
			 cases[i].v);
		conf = load_ok(text);
		cr_expect_eq(ic_conf_policy(conf, "a")->mount, cases[i].want, "'%s'", cases[i].v);
		ic_conf_free(conf);
	}
}

Test(conf, mount_lists_accept_spaces_around_items)
{
	struct ic_conf *conf =
	    load_ok("[policy a]\n"
		    "security.syscalls.intercept.mount.allowed = ext4, xfs ,btrfs\n"
		    "security.syscalls.intercept.mount.fuse = ext2=fuse2fs, ntfs=ntfs-3g\n");
	const struct ic_policy *p = ic_conf_policy(conf, "a");

	cr_assert_not_null(p);
	cr_expect_str_eq(p->mount_allowed, "ext4, xfs ,btrfs");
	cr_expect_str_eq(p->mount_fuse, "ext2=fuse2fs, ntfs=ntfs-3g");
	ic_conf_free(conf);
}

Test(conf, named_policies_start_from_key_defaults)
{
	struct ic_conf *conf =
	    load_ok("[policy strict]\n"
		    "security.syscalls.intercept.mknod = true\n"
		    "[policy " S50 "xxxxxxxxxxxxx]\n"); /* 63 bytes: the longest name */
	const struct ic_policy *strict = ic_conf_policy(conf, "strict");
	const struct ic_policy *def = ic_conf_policy(conf, "default");
	const struct ic_policy *lng = ic_conf_policy(conf, S50 "xxxxxxxxxxxxx");

	cr_expect_eq(conf->n_policies, 3);
	cr_assert_not_null(strict);
	cr_assert_not_null(def);
	cr_assert_not_null(lng);
	cr_expect_str_eq(strict->name, "strict");
	cr_expect(strict->mknod);
	cr_expect_not(strict->sysinfo);
	cr_expect_eq(strict->sysinfo_cache_ms, 200);
	expect_policy_defaults(def, true);
	expect_policy_defaults(lng, false);
	ic_conf_free(conf);
}

Test(conf, explicit_default_policy_replaces_the_builtin_one)
{
	struct ic_conf *conf =
	    load_ok("[policy default]\nsecurity.syscalls.intercept.mknod = true\n");
	const struct ic_policy *p = ic_conf_policy(conf, "default");

	cr_expect_eq(conf->n_policies, 1);
	cr_assert_not_null(p);
	cr_expect(p->mknod);
	cr_expect_not(p->sysinfo);
	ic_conf_free(conf);
}

Test(conf, policy_lookup_finds_only_exact_names)
{
	struct ic_conf *conf = load_ok("[policy strict]\n[policy loose]\n");

	cr_expect_eq(conf->n_policies, 3);
	cr_assert_not_null(ic_conf_policy(conf, "strict"));
	cr_expect_str_eq(ic_conf_policy(conf, "strict")->name, "strict");
	cr_assert_not_null(ic_conf_policy(conf, "loose"));
	cr_expect_str_eq(ic_conf_policy(conf, "loose")->name, "loose");
	cr_expect_not_null(ic_conf_policy(conf, "default"));
	cr_expect_null(ic_conf_policy(conf, "nope"));
	cr_expect_null(ic_conf_policy(conf, "Strict"));
	cr_expect_null(ic_conf_policy(conf, "stric"));
	cr_expect_null(ic_conf_policy(conf, ""));
	ic_conf_free(conf);
}

Test(conf, policy_set_on_a_copy_overrides_without_touching_the_original)
{
	char err[IC_CONF_ERR_MAX];
	struct ic_conf *conf = load_ok("[policy base]\n"
				       "security.syscalls.intercept.mount.allowed = ext4\n");
	const struct ic_policy *base = ic_conf_policy(conf, "base");
	struct ic_policy copy;

	cr_assert_not_null(base);
	cr_assert_eq(ic_policy_copy(&copy, base), 0);
	cr_expect_str_eq(copy.name, "base");
	cr_expect_str_eq(copy.mount_allowed, "ext4");
	cr_expect_neq(copy.mount_allowed, base->mount_allowed);

	cr_expect_eq(ic_policy_set(&copy, "security.syscalls.intercept.mount", "true", err), 0,
		     "%s", err);
	cr_expect_eq(
	    ic_policy_set(&copy, "security.syscalls.intercept.mount.allowed", "btrfs,xfs", err), 0,
	    "%s", err);
	cr_expect_eq(ic_policy_set(&copy, "failure.answer", "EPERM", err), 0, "%s", err);
	cr_expect_eq(ic_policy_set(&copy, "sched.max_rt_priority", "10", err), 0, "%s", err);
	cr_expect(copy.mount);
	cr_expect_str_eq(copy.mount_allowed, "btrfs,xfs");
	cr_expect_eq(copy.failure.kind, IC_FAILURE_ERRNO);
	cr_expect_eq(copy.failure.err, EPERM);
	cr_expect_eq(copy.sched_max_rt_priority, 10);

	cr_expect_not(base->mount);
	cr_expect_str_eq(base->mount_allowed, "ext4");
	cr_expect_eq(base->failure.kind, IC_FAILURE_CONTINUE);
	cr_expect_eq(base->sched_max_rt_priority, 0);

	ic_policy_done(&copy);
	cr_expect_null(copy.mount_allowed);
	cr_expect_null(copy.mount_fuse);
	ic_conf_free(conf);
}

Test(conf, policy_set_rejects_unknown_keys_and_bad_values_unchanged)
{
	static const struct {
		const char *key, *value, *msg;
		int err;
	} cases[] = {
	    {"security.syscalls.intercept.chmod", "true",
	     "unknown policy key 'security.syscalls.intercept.chmod'", EINVAL},
	    {"workers", "4", "unknown policy key 'workers'", EINVAL},
	    {"", "true", "unknown policy key ''", EINVAL},
	    {"security.syscalls.intercept.mknod", "maybe",
	     "invalid value for policy key 'security.syscalls.intercept.mknod': 'maybe'", EINVAL},
	    {"sched.max_rt_priority", "100",
	     "out of range for policy key 'sched.max_rt_priority': '100'", ERANGE},
	    {"security.syscalls.intercept.mount.allowed", "ext4,,xfs",
	     "invalid value for policy key 'security.syscalls.intercept.mount.allowed'", EINVAL},
	    {"failure.answer", "ignore", "invalid value for policy key 'failure.answer': 'ignore'",
	     EINVAL},
	};
	char err[IC_CONF_ERR_MAX];
	struct ic_conf *conf = NULL;
	struct ic_policy copy;

	cr_assert_eq(ic_conf_load(NULL, false, &conf, err), 0);
	cr_assert_eq(ic_policy_copy(&copy, ic_conf_policy(conf, "default")), 0);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		err[0] = 0;
		cr_expect_eq(ic_policy_set(&copy, cases[i].key, cases[i].value, err), -cases[i].err,
			     "%s=%s", cases[i].key, cases[i].value);
		cr_expect(strstr(err, cases[i].msg) != NULL, "%s=%s: err '%s'", cases[i].key,
			  cases[i].value, err);
	}
	expect_policy_defaults(&copy, true);
	ic_policy_done(&copy);
	ic_conf_free(conf);
}

Test(conf, effective_threads_resolves_auto_to_the_cpu_count)
{
	cr_expect_eq(ic_conf_effective_threads(IC_THREADS_AUTO, 8), 8);
	cr_expect_eq(ic_conf_effective_threads(IC_THREADS_AUTO, 0), 1);
	cr_expect_eq(ic_conf_effective_threads(3, 8), 3);
}

Test(conf, dump_keys_lists_every_key_with_its_default)
{
	static const char *const want[] = {
	    "[server]",
	    "acceptors",
	    "workers",
	    "queue.capacity",
	    "request.deadline_ms",
	    "/run/interceptd/oci.sock",
	    "(restart to change)",
	    "log.target",
	    "[policy NAME]",
	    "security.syscalls.intercept.mount.fuse",
	    "security.syscalls.intercept.sched_setscheduler",
	    "sched.max_rt_priority",
	    "sysinfo.cache_ms",
	    "failure.answer",
	};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	ic_conf_dump_keys(f);
	cr_assert_eq(fclose(f), 0);
	for (size_t i = 0; i < ARRAY_SIZE(want); i++)
		cr_expect(strstr(buf, want[i]) != NULL, "missing '%s'", want[i]);
	free(buf);
}

/* One rejected config: the error must name the file, the line and the key. The strings are
 * arrays, not pointers: Criterion hands the parameters to a fresh process by copying them. */
struct bad_conf {
	char text[256];
	int line;
	char msg[128];
	int err;
};

ParameterizedTestParameters(conf, rejects_bad_config_naming_file_line_and_key)
{
	static struct bad_conf cases[] = {
	    {"[server]\nworkers = 4\nbogus = 1\n", 3, "unknown key 'bogus' in [server]", EINVAL},
	    {"[policy default]\nsecurity.syscalls.intercept.mknod = true\n"
	     "security.syscalls.intercept.chmod = true\n",
	     3, "unknown key 'security.syscalls.intercept.chmod' in [policy default]", EINVAL},
	    {"[policy a]\nworkers = 4\n", 2, "unknown key 'workers' in [policy a]", EINVAL},
	    {"[server]\nsecurity.syscalls.intercept.mknod = true\n", 2,
	     "unknown key 'security.syscalls.intercept.mknod' in [server]", EINVAL},
	    {"[server]\nWorkers = 4\n", 2, "unknown key 'Workers' in [server]", EINVAL},
	    {"[server]\nworkers = 2\nacceptors = 2\nworkers = 3\n", 4,
	     "duplicate key 'workers' in [server]", EINVAL},
	    {"[policy a]\nsecurity.syscalls.intercept.mknod = true\n"
	     "security.syscalls.intercept.mknod = false\n",
	     3, "duplicate key 'security.syscalls.intercept.mknod' in [policy a]", EINVAL},
	    {"[policy a]\nsysinfo.cache_ms = 10\n[policy b]\n[policy a]\n", 4,
	     "duplicate section [policy a]", EINVAL},
	    {"[policy default]\n[policy default]\n", 2, "duplicate section [policy default]",
	     EINVAL},
	    {"[server]\nworkers = 2\n\n[server]\nacceptors = 2\n", 4, "duplicate section [server]",
	     EINVAL},
	    {"; comment\n[global]\n", 2, "unknown section [global]", EINVAL},
	    {"[Server]\n", 1, "unknown section [Server]", EINVAL},
	    {"[policy]\n", 1, "unknown section [policy]", EINVAL},
	    {"[policy default]\nsecurity.syscalls.intercept.mknod = maybe\n", 2,
	     "invalid value for key 'security.syscalls.intercept.mknod': 'maybe'", EINVAL},
	    {"[policy default]\nsecurity.syscalls.intercept.sysinfo =\n", 2,
	     "invalid value for key 'security.syscalls.intercept.sysinfo': ''", EINVAL},
	    {"[server]\nworkers = four\n", 2, "invalid value for key 'workers': 'four'", EINVAL},
	    {"[server]\nworkers =\n", 2, "invalid value for key 'workers': ''", EINVAL},
	    {"[server]\nworkers = -1\n", 2, "invalid value for key 'workers': '-1'", EINVAL},
	    {"[server]\nworkers = Auto\n", 2, "invalid value for key 'workers': 'Auto'", EINVAL},
	    {"[server]\nrequest.deadline_ms = 100ms\n", 2,
	     "invalid value for key 'request.deadline_ms': '100ms'", EINVAL},
	    {"[server]\nqueue.capacity = 1.5\n", 2, "invalid value for key 'queue.capacity': '1.5'",
	     EINVAL},
	    {"[server]\nworkers = 0\n", 2, "out of range for key 'workers': '0'", ERANGE},
	    {"[server]\nworkers = 1025\n", 2, "out of range for key 'workers': '1025'", ERANGE},
	    {"[server]\nworkers = 18446744073709551616\n", 2, "out of range for key 'workers'",
	     ERANGE},
	    {"[server]\nacceptors = 0\n", 2, "out of range for key 'acceptors': '0'", ERANGE},
	    {"[server]\nacceptors = 65\n", 2, "out of range for key 'acceptors': '65'", ERANGE},
	    {"[server]\nrequest.deadline_ms = 20001\n", 2,
	     "out of range for key 'request.deadline_ms': '20001'", ERANGE},
	    {"[server]\nrequest.deadline_ms = 0\n", 2,
	     "out of range for key 'request.deadline_ms': '0'", ERANGE},
	    {"[server]\nqueue.capacity = 0\n", 2, "out of range for key 'queue.capacity': '0'",
	     ERANGE},
	    {"[server]\nqueue.capacity = 16777217\n", 2,
	     "out of range for key 'queue.capacity': '16777217'", ERANGE},
	    {"[policy a]\nsched.max_rt_priority = 100\n", 2,
	     "out of range for key 'sched.max_rt_priority': '100'", ERANGE},
	    {"[policy a]\nsysinfo.cache_ms = 10001\n", 2,
	     "out of range for key 'sysinfo.cache_ms': '10001'", ERANGE},
	    {"[server]\noci.socket = run/interceptd/oci.sock\n", 2,
	     "invalid value for key 'oci.socket': 'run/interceptd/oci.sock'", EINVAL},
	    {"[server]\nlxc.socket = lxc.sock\n", 2, "invalid value for key 'lxc.socket'", EINVAL},
	    {"[server]\ncontrol.socket = /" S100 "xxxxxxx\n", 2, /* 108 bytes: no room for NUL */
	     "invalid value for key 'control.socket'", EINVAL},
	    {"[server]\nlog.level = verbose\n", 2, "invalid value for key 'log.level': 'verbose'",
	     EINVAL},
	    {"[server]\nlog.target = kmsg\n", 2, "invalid value for key 'log.target': 'kmsg'",
	     EINVAL},
	    {"[policy a]\nfailure.answer = ignore\n", 2,
	     "invalid value for key 'failure.answer': 'ignore'", EINVAL},
	    {"[policy a]\nfailure.answer = EFOO\n", 2,
	     "invalid value for key 'failure.answer': 'EFOO'", EINVAL},
	    {"[policy a]\nsecurity.syscalls.intercept.mount.allowed = ext4,,xfs\n", 2,
	     "invalid value for key 'security.syscalls.intercept.mount.allowed': 'ext4,,xfs'",
	     EINVAL},
	    {"[policy a]\nsecurity.syscalls.intercept.mount.allowed = ext4;rm\n", 2,
	     "invalid value for key 'security.syscalls.intercept.mount.allowed': 'ext4;rm'",
	     EINVAL},
	    {"[policy a]\nsecurity.syscalls.intercept.mount.allowed = ,ext4\n", 2,
	     "invalid value for key 'security.syscalls.intercept.mount.allowed'", EINVAL},
	    {"[policy a]\nsecurity.syscalls.intercept.mount.allowed = ext4,\n", 2,
	     "invalid value for key 'security.syscalls.intercept.mount.allowed': 'ext4,'", EINVAL},
	    {"[policy a]\nsecurity.syscalls.intercept.mount.allowed = ext4 xfs\n", 2,
	     "invalid value for key 'security.syscalls.intercept.mount.allowed'", EINVAL},
	    {"[policy a]\nsecurity.syscalls.intercept.mount.fuse = ext2\n", 2,
	     "invalid value for key 'security.syscalls.intercept.mount.fuse': 'ext2'", EINVAL},
	    {"[policy a]\nsecurity.syscalls.intercept.mount.fuse = ext2=\n", 2,
	     "invalid value for key 'security.syscalls.intercept.mount.fuse': 'ext2='", EINVAL},
	    {"[policy a]\nsecurity.syscalls.intercept.mount.fuse = =fuse2fs\n", 2,
	     "invalid value for key 'security.syscalls.intercept.mount.fuse'", EINVAL},
	    {"[policy a]\nsecurity.syscalls.intercept.mount.fuse = ext2=fuse2fs,ntfs\n", 2,
	     "invalid value for key 'security.syscalls.intercept.mount.fuse'", EINVAL},
	    {"workers = 4\n", 1, "key 'workers' outside any section", EINVAL},
	    {"; leading comment\n\nsecurity.syscalls.intercept.mknod = true\n[policy a]\n", 3,
	     "key 'security.syscalls.intercept.mknod' outside any section", EINVAL},
	    {"[server]\nworkers 4\n", 2, "expected 'key = value'", EINVAL},
	    {"[server]\nworkers: 4\n", 2, "expected 'key = value'", EINVAL},
	    {"[server]\nworkers ; = 4\n", 2, "syntax error", EINVAL},
	    {"[server]\n[policy a\n", 2, "unterminated section header", EINVAL},
	    {"[server\nworkers = 4\n", 1, "unterminated section header", EINVAL},
	    {"[policy ]\n", 1, "bad policy name in [policy ]", EINVAL},
	    {"[policy a b]\n", 1, "bad policy name in [policy a b]", EINVAL},
	    {"[policy a,b]\n", 1, "bad policy name in [policy a,b]", EINVAL},
	    {"[policy a=b]\n", 1, "bad policy name in [policy a=b]", EINVAL},
	    {"[policy a\tb]\n", 1, "bad policy name", EINVAL},
	    {"[policy " S50 "xxxxxxxxxxxxxx]\n", 1, "bad policy name", EINVAL}, /* 64 bytes */
	    {"[server]\n; " S100 S100 "\n", 2, "line too long", EINVAL},
	};

	return cr_make_param_array(struct bad_conf, cases, ARRAY_SIZE(cases));
}

ParameterizedTest(struct bad_conf *c, conf, rejects_bad_config_naming_file_line_and_key)
{
	char err[IC_CONF_ERR_MAX] = "";
	char where[128];
	struct ic_conf *conf;
	int r = load_text(c->text, &conf, err);

	snprintf(where, sizeof(where), "%s:%d: ", conf_path, c->line);
	cr_expect_eq(r, -c->err, "r=%d want %d for:\n%s", r, -c->err, c->text);
	cr_expect_null(conf, "no config on failure");
	cr_expect(strncmp(err, where, strlen(where)) == 0, "err '%s' does not start with '%s'", err,
		  where);
	cr_expect(strstr(err, SUFFIX ":") != NULL, "err '%s' names no file", err);
	cr_expect(strstr(err, c->msg) != NULL, "err '%s' lacks '%s'", err, c->msg);
	cr_expect_null(strchr(err, '\n'), "err '%s' is not one line", err);
	ic_conf_free(conf);
}

Test(conf, fstype_both_mounted_and_redirected_to_fuse_is_refused)
{
	struct ic_conf *conf = NULL;
	char err[IC_CONF_ERR_MAX];
	int r = load_text("[policy p]\n"
			  "security.syscalls.intercept.mount.allowed = xfs, ext4\n"
			  "security.syscalls.intercept.mount.fuse = ext4=fuse2fs\n",
			  &conf, err);

	cr_expect_eq(r, -EINVAL);
	cr_expect_null(conf);
	cr_expect(strstr(err, "[policy p]") && strstr(err, "'ext4'"), "%s", err);
	r = load_text("[policy p]\n"
		      "security.syscalls.intercept.mount.allowed = ext4\n"
		      "security.syscalls.intercept.mount.fuse = ext2=fuse2fs\n",
		      &conf, err);
	cr_expect_eq(r, 0, "%s", err);
	ic_conf_free(conf);
}
