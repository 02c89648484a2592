/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/proc.h"
#include "handlers/handlers.h"
#include "tests/harness.h"

/* Integration: the sysinfo handler through the real daemon, containers made by intercept-run. */

static struct ic_test_daemon d;
static char out[1 << 16];

static void setup(void)
{
	ic_test_daemon_start(&d, NULL, NULL);
}

static void teardown(void)
{
	ic_test_daemon_stop(&d);
}

TestSuite(sysinfo, .init = setup, .fini = teardown, .timeout = 120);

static int run_in_container(const char *opts, const char *cmd)
{
	return ic_test_sh(out, sizeof(out), 60, "%s -c %s -s %s %s -- %s",
			  ic_test_bin("intercept-run"), d.conf, d.oci, opts, cmd);
}

static void check_memory_limit(const char *opts)
{
	int r = run_in_container(opts, ic_test_bin("tests/sysinfo-probe"));

	cr_assert_eq(r, 0, "intercept-run failed (%d): %s", r, out);
	cr_expect_eq(ic_test_kv(out, "totalram") * ic_test_kv(out, "mem_unit"), 64LL << 20, "%s",
		     out);
	cr_expect_leq(ic_test_kv(out, "freeram"), 64LL << 20, "%s", out);
	cr_expect_eq(ic_test_kv(out, "sizeof"), (long long)sizeof(struct sysinfo));
	cr_expect(ic_test_stat_reaches(&d, "answers.emulated", 1, 5000), "counter %s",
		  "answers.emulated");
}

Test(sysinfo, memory_limit_is_the_containers_totalram)
{
	check_memory_limit("--memory 64M");
}

Test(sysinfo, memory_limit_is_the_containers_totalram_in_a_user_namespace)
{
	check_memory_limit("--userns --memory 64M");
}

Test(sysinfo, procs_is_the_containers_task_count)
{
	int r =
	    run_in_container("--memory 64M", "/bin/sh -c 'sleep 5 & sleep 5 & exec " IC_TOP_BUILDDIR
					     "/tests/sysinfo-probe'");

	cr_assert_eq(r, 0, "%s", out);
	/* Two sleeps and the probe itself. */
	cr_expect_eq(ic_test_kv(out, "procs"), 3, "%s", out);
}

Test(sysinfo, uptime_is_the_containers_age)
{
	int r = run_in_container("--memory 64M", "/bin/sh -c 'sleep 2; exec " IC_TOP_BUILDDIR
						 "/tests/sysinfo-probe'");
	long long up = ic_test_kv(out, "uptime");
	struct sysinfo host;

	cr_assert_eq(r, 0, "%s", out);
	sysinfo(&host);
	cr_expect(up >= 1 && up <= 5, "uptime %lld, container age is about 2 s: %s", up, out);
	cr_expect_lt(up, host.uptime);
}

Test(sysinfo, i386_caller_gets_the_32_bit_layout)
{
	int r;

	cr_assert_eq(access(ic_test_bin("tests/sysinfo-probe32"), X_OK), 0,
		     "tests/sysinfo-probe32 missing: gcc-multilib must be installed");
	r = run_in_container("--memory 64M", ic_test_bin("tests/sysinfo-probe32"));
	cr_assert_eq(r, 0, "%s", out);
	cr_expect_eq(ic_test_kv(out, "sizeof"), 64, "%s", out);
	cr_expect_eq(ic_test_kv(out, "totalram") * ic_test_kv(out, "mem_unit"), 64LL << 20, "%s",
		     out);
	cr_expect_gt(ic_test_kv(out, "procs"), 0, "%s", out);
}

Test(sysinfo, bad_pointer_gives_efault_like_the_kernel)
{
	char native[256];
	int r;

	r = ic_test_sh(native, sizeof(native), 10, "%s fault", ic_test_bin("tests/sysinfo-probe"));
	cr_assert_eq(r, 0);
	r = ic_test_sh(out, sizeof(out), 60, "%s -c %s -s %s --memory 64M -- %s fault",
		       ic_test_bin("intercept-run"), d.conf, d.oci,
		       ic_test_bin("tests/sysinfo-probe"));
	cr_assert_eq(r, 0, "%s", out);
	cr_expect_eq(ic_test_kv(out, "errno"), ic_test_kv(native, "errno"), "native %s, ours %s",
		     native, out);
	cr_expect_eq(ic_test_kv(out, "errno"), 14);
	cr_expect(ic_test_stat_reaches(&d, "answers.errno", 1, 5000), "counter %s",
		  "answers.errno");
}

Test(sysinfo, no_memory_limit_gives_host_totalram)
{
	struct sysinfo host;
	int r = run_in_container("", ic_test_bin("tests/sysinfo-probe"));

	cr_assert_eq(r, 0, "%s", out);
	sysinfo(&host);
	cr_expect_eq(ic_test_kv(out, "totalram"), (long long)host.totalram, "%s", out);
	cr_expect(ic_test_stat_reaches(&d, "answers.emulated", 1, 5000), "counter %s",
		  "answers.emulated");
}

/* As do_sysinfo, a second begun counts: a container that asks at once is 1 s old, not 0. */
Test(sysinfo, uptime_of_a_fresh_container_rounds_up_like_the_kernel)
{
	uint64_t t0 = ic_now_ns();
	int r = run_in_container("--memory 64M", ic_test_bin("tests/sysinfo-probe"));
	/* Its age can be no more than the whole run's, rounded up (a busy machine's start). */
	long long most = (long long)((ic_now_ns() - t0 + 999999999ULL) / 1000000000ULL);

	cr_assert_eq(r, 0, "%s", out);
	cr_expect_geq(ic_test_kv(out, "uptime"), 1, "rounded down: %s", out);
	cr_expect_leq(ic_test_kv(out, "uptime"), most, "%s", out);
}

/* busybox free adds bufferram to /proc/meminfo's Cached. Under LXCFS (simulated here by a
 * meminfo bound over /proc/meminfo, Buffers 0 and the container's page cache under Cached, as
 * LXCFS writes it) that cache must not come back through bufferram, or "used" wraps. */
Test(sysinfo, busybox_free_under_an_lxcfs_meminfo_shows_used_below_total)
{
	unsigned long long total = 0, used = ~0ULL;
	const char *mem;
	int r;

	r = run_in_container(
	    "--memory 64M",
	    "/bin/sh -c 'set -e; cd $(mktemp -d /var/tmp/ic-free.XXXXXX); "
	    "dd if=/dev/zero of=cache bs=1M count=24 2>/dev/null; "
	    "printf \"MemTotal: 65536 kB\\nMemFree: 0 kB\\nMemAvailable: 0 kB\\nBuffers: 0 kB\\n"
	    "Cached: 24576 kB\\nSReclaimable: 0 kB\\n\" > meminfo; "
	    "mount --bind meminfo /proc/meminfo; busybox free -k; " IC_TOP_BUILDDIR
	    "/tests/sysinfo-probe; rm -rf $PWD'");
	cr_assert_eq(r, 0, "%s", out);
	mem = strstr(out, "Mem:");
	cr_assert(mem, "%s", out);
	cr_assert_eq(sscanf(mem, "Mem: %llu %llu", &total, &used), 2, "%s", out);
	cr_expect_eq(total, 65536, "%s", out);
	cr_expect_leq(used, total, "used wrapped: %s", out);
	cr_expect_eq(ic_test_kv(out, "bufferram"), 0, "%s", out);
}

/* A config edited and not reloaded: the daemon would serve the listener with the kernel's own
 * answers, so intercept-run says so and starts nothing, rather than run a container whose
 * policy is not in force. After the reload the same command runs under it. */
Test(sysinfo, intercept_run_refuses_a_policy_the_daemon_has_not_loaded)
{
	int r;

	ic_test_daemon_rewrite(&d, NULL,
			       "[policy later]\nsecurity.syscalls.intercept.sysinfo = true\n");
	r = run_in_container("-p later --memory 64M", ic_test_bin("tests/sysinfo-probe"));
	cr_expect_neq(r, 0, "intercept-run started a container the daemon has no policy for: %s",
		      out);
	cr_expect(strstr(out, "has not loaded policy 'later'") &&
		      strstr(out, "interceptctl reload"),
		  "%s", out);
	cr_expect_null(strstr(out, "totalram="), "the command ran: %s", out);

	cr_assert_eq(ic_test_ctl(&d, out, sizeof(out), "reload"), 0, "%s", out);
	r = run_in_container("-p later --memory 64M", ic_test_bin("tests/sysinfo-probe"));
	cr_assert_eq(r, 0, "%s", out);
	cr_expect_eq(ic_test_kv(out, "totalram"), 64LL << 20, "%s", out);
}

/* The kernel's own sysinfo is instantaneous: with sysinfo.cache_ms 0 the container's very next
 * call after its limit changed reports the new one (and after cache_ms when it is not 0). */
static void check_limit_change(const char *policy, const char *pause)
{
	char id[64], cmd[1024];
	const char *second;
	int r;

	snprintf(id, sizeof(id), "ic-limit-%d", (int)getpid());
	snprintf(cmd, sizeof(cmd),
		 "/bin/sh -c 'set -e; %s; if [ -d /sys/fs/cgroup/memory/interceptd/%s ]; then "
		 "echo 100663296 > /sys/fs/cgroup/memory/interceptd/%s/memory.limit_in_bytes; "
		 "else echo 100663296 > /sys/fs/cgroup/interceptd/%s/memory.max; fi; %s "
		 "echo second; exec %s'",
		 ic_test_bin("tests/sysinfo-probe"), id, id, id, pause,
		 ic_test_bin("tests/sysinfo-probe"));
	ic_test_daemon_rewrite(&d, NULL, policy);
	cr_assert_eq(ic_test_ctl(&d, out, sizeof(out), "reload"), 0, "%s", out);
	snprintf(id + strlen(id), sizeof(id) - strlen(id), " -p fresh --memory 64M");
	r = ic_test_sh(out, sizeof(out), 60, "%s -c %s -s %s --id %s -- %s",
		       ic_test_bin("intercept-run"), d.conf, d.oci, id, cmd);
	cr_assert_eq(r, 0, "%s", out);
	cr_expect_eq(ic_test_kv(out, "totalram"), 64LL << 20, "%s", out);
	second = strstr(out, "second");
	cr_assert_not_null(second, "%s", out);
	cr_expect_eq(ic_test_kv(second, "totalram"), 96LL << 20, "%s", out);
}

Test(sysinfo, a_limit_change_shows_at_the_very_next_call_with_cache_ms_0)
{
	check_limit_change("[policy fresh]\nsecurity.syscalls.intercept.sysinfo = true\n"
			   "sysinfo.cache_ms = 0\n",
			   "");
}

Test(sysinfo, a_limit_change_shows_once_cache_ms_has_passed)
{
	check_limit_change("[policy fresh]\nsecurity.syscalls.intercept.sysinfo = true\n"
			   "sysinfo.cache_ms = 300\n",
			   "sleep 0.4;");
}

static int server_fds(void)
{
	char path[64];
	struct dirent *de;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)ic_test_server_pid(&d));
	dir = opendir(path);
	cr_assert_not_null(dir, "%s", path);
	while ((de = readdir(dir)))
		n += de->d_name[0] != '.';
	closedir(dir);
	return n;
}

/* The cgroup files a reading keeps open go with the container: containers that come, ask and
 * go (their cgroups removed under the daemon's open files) leave no fd behind. */
Test(sysinfo, containers_coming_and_going_leave_no_fd_behind)
{
	int before = -1, after = -1, r;

	r = run_in_container("--memory 64M", ic_test_bin("tests/sysinfo-probe"));
	cr_assert_eq(r, 0, "%s", out);
	for (int i = 0; i < 50 && before != server_fds(); i++) {
		before = server_fds();
		usleep(100 * 1000);
	}
	for (int i = 0; i < 20; i++) {
		r = run_in_container(i % 2 ? "--memory 64M" : "--memory 64M --pids 100",
				     ic_test_bin("tests/sysinfo-probe"));
		cr_assert_eq(r, 0, "round %d: %s", i, out);
		cr_assert_eq(ic_test_kv(out, "totalram"), 64LL << 20, "%s", out);
	}
	/* A container is freed once its listener hangs up, after a grace period. */
	for (int i = 0; i < 100 && (after = server_fds()) > before; i++)
		usleep(50 * 1000);
	cr_expect_leq(after, before, "%d fds before 20 containers, %d after", before, after);
}

/* Unit: the handler on fake v1 cgroup directories, answering this very process. The figures
 * belong to the cgroup: containers in one share a reading for sysinfo.cache_ms, a change shows
 * once that has passed (at once with 0), and a reading goes with its last container. */

extern const struct ic_sys_state ic_sysinfo_state;
enum ic_verdict ic_handle_sysinfo(struct ic_req *req, struct ic_resp *resp);

static char cg_top[64];

static void fake_cgroups(void)
{
	snprintf(cg_top, sizeof(cg_top), "/tmp/ic-test.sysinfo-%d", (int)getpid());
	cr_assert_eq(mkdir(cg_top, 0700), 0);
}

static void fake_cgroups_rm(void)
{
	ic_test_sh(NULL, 0, 10, "rm -rf %s", cg_top);
}

TestSuite(sysinfo_reading, .init = fake_cgroups, .fini = fake_cgroups_rm, .timeout = 120);

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

/* A v1 memory cgroup with limit MiB of which used MiB are used, and 'procs' tasks. */
static void fake_cgroup(const char *name, unsigned limit, unsigned used, unsigned procs)
{
	char dir[128], text[256];

	snprintf(dir, sizeof(dir), "%s/%s", cg_top, name);
	mkdir(dir, 0700);
	snprintf(text, sizeof(text), "%llu\n", (unsigned long long)used << 20);
	write_file(dir, "memory.usage_in_bytes", text);
	snprintf(text, sizeof(text),
		 "cache 0\nrss 0\nhierarchical_memory_limit %llu\nhierarchical_memsw_limit 0\n"
		 "total_shmem 0\n",
		 (unsigned long long)limit << 20);
	write_file(dir, "memory.stat", text);
	snprintf(text, sizeof(text), "%u\n", procs);
	write_file(dir, "pids.current", text);
}

struct fake_ct {
	struct ic_container_info info;
	struct ic_policy policy;
	void *state;
};

static void fake_ct_init(struct fake_ct *c, const char *cgroup, unsigned cache_ms)
{
	char dir[128];

	memset(c, 0, sizeof(*c));
	snprintf(c->info.id, sizeof(c->info.id), "%s", cgroup);
	snprintf(dir, sizeof(dir), "%s/%s", cg_top, cgroup);
	c->info.cgroup.memory = strdup(dir);
	c->info.cgroup.pids = strdup(dir);
	c->policy.sysinfo_cache_ms = cache_ms;
	c->state = calloc(1, ic_sysinfo_state.size);
	cr_assert_not_null(c->state);
	if (ic_sysinfo_state.init)
		ic_sysinfo_state.init(c->state);
}

/* What the registry does when the container's last reference goes. */
static void fake_ct_free(struct fake_ct *c)
{
	if (ic_sysinfo_state.fini)
		ic_sysinfo_state.fini(c->state);
	free(c->state);
	ic_cgroup_done(&c->info.cgroup);
}

static int always_valid(struct ic_req *req)
{
	(void)req;
	return 0;
}

/* One sysinfo of container c, answered into this process. */
static struct sysinfo ask(struct fake_ct *c)
{
	struct sysinfo si;
	struct seccomp_notif n = {.pid = (uint32_t)getpid()};
	struct ic_req req = {.notif = &n,
			     .abi = IC_ABI_NATIVE,
			     .policy = &c->policy,
			     .ct = &c->info,
			     .state = c->state,
			     .still_valid = always_valid};
	struct ic_resp resp = {0};

	memset(&si, 0xa5, sizeof(si));
	n.data.args[0] = (uint64_t)(uintptr_t)&si;
	cr_assert_eq(ic_handle_sysinfo(&req, &resp), IC_VERDICT_RESPOND);
	cr_assert_eq(resp.error, 0);
	return si;
}

#define MIB(x) ((unsigned long)(x) << 20)

/* The limit goes from 64 to 96 MiB, usage from 10 to 20 MiB, tasks from 3 to 4; the next call
 * after cache_ms sees all of it. */
static void check_change_after(unsigned cache_ms)
{
	struct fake_ct a;

	fake_cgroup("a", 64, 10, 3);
	fake_ct_init(&a, "a", cache_ms);
	cr_expect_eq(ask(&a).totalram, MIB(64));
	fake_cgroup("a", 96, 20, 4);
	if (cache_ms)
		usleep((cache_ms + 10) * 1000);
	cr_expect_eq(ask(&a).totalram, MIB(96));
	cr_expect_eq(ask(&a).freeram, MIB(76));
	cr_expect_eq(ask(&a).procs, 4);
	fake_ct_free(&a);
}

Test(sysinfo_reading, a_limit_change_shows_at_the_very_next_call_with_no_cache)
{
	check_change_after(0);
}

Test(sysinfo_reading, a_change_shows_once_cache_ms_has_passed)
{
	check_change_after(100);
}

Test(sysinfo_reading, containers_in_one_cgroup_share_one_reading)
{
	struct fake_ct a, b;
	unsigned long before = ic_sysinfo_readings();

	fake_cgroup("shared", 64, 10, 3);
	fake_ct_init(&a, "shared", 10000);
	fake_ct_init(&b, "shared", 10000);
	cr_expect_eq(ask(&a).totalram, MIB(64));
	/* Within a's cache_ms, b takes a's reading rather than the files. */
	fake_cgroup("shared", 96, 10, 3);
	cr_expect_eq(ask(&b).totalram, MIB(64));
	cr_expect_eq(ic_sysinfo_readings(), before + 1);
	fake_ct_free(&a);
	fake_ct_free(&b);
	cr_expect_eq(ic_sysinfo_readings(), before);
}

Test(sysinfo_reading, containers_in_different_cgroups_never_share)
{
	struct fake_ct a, b;

	fake_cgroup("a", 64, 10, 3);
	fake_cgroup("b", 96, 10, 5);
	fake_ct_init(&a, "a", 10000);
	fake_ct_init(&b, "b", 10000);
	cr_expect_eq(ask(&a).totalram, MIB(64));
	cr_expect_eq(ask(&b).totalram, MIB(96));
	cr_expect_eq(ask(&b).procs, 5);
	cr_expect_eq(ask(&a).procs, 3);
	fake_ct_free(&a);
	fake_ct_free(&b);
}

/* A cgroup removed and made again under its old name is another cgroup: a container in the new
 * one must not get the reading of the old one, even while a container of the old one lives. */
Test(sysinfo_reading, a_cgroup_made_again_under_its_name_gets_a_reading_of_its_own)
{
	struct fake_ct old, fresh;
	char dir[128];

	fake_cgroup("again", 64, 10, 3);
	fake_ct_init(&old, "again", 10000);
	cr_expect_eq(ask(&old).totalram, MIB(64));
	snprintf(dir, sizeof(dir), "%s/again", cg_top);
	cr_assert_eq(ic_test_sh(NULL, 0, 10, "mv %s %s.gone", dir, dir), 0);
	fake_cgroup("again", 96, 10, 3);
	fake_ct_init(&fresh, "again", 10000);
	cr_expect_eq(ask(&fresh).totalram, MIB(96));
	fake_ct_free(&old);
	fake_ct_free(&fresh);
}

/* Our fds open on files under the fake cgroups. */
static int fds_on_cgroups(void)
{
	char link[300], target[256];
	struct dirent *de;
	DIR *dir = opendir("/proc/self/fd");
	int n = 0;

	cr_assert_not_null(dir);
	while ((de = readdir(dir))) {
		ssize_t len;

		snprintf(link, sizeof(link), "/proc/self/fd/%s", de->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = 0;
		n += strncmp(target, cg_top, strlen(cg_top)) == 0;
	}
	closedir(dir);
	return n;
}

/* Each file is opened once and read again through its fd; the fds go with the reading. */
Test(sysinfo_reading, a_reading_keeps_its_files_open_until_its_last_container_goes)
{
	struct fake_ct a, b;

	fake_cgroup("kept", 64, 10, 3);
	fake_ct_init(&a, "kept", 0);
	fake_ct_init(&b, "kept", 0);
	cr_expect_eq(ask(&a).totalram, MIB(64));
	/* memory.usage_in_bytes, memory.stat, pids.current; no memsw without its limit. */
	cr_expect_eq(fds_on_cgroups(), 3);
	fake_cgroup("kept", 96, 10, 3); /* rewritten in place: the open files see it */
	for (int i = 0; i < 10; i++)
		cr_expect_eq(ask(i % 2 ? &a : &b).totalram, MIB(96));
	cr_expect_eq(fds_on_cgroups(), 3);
	fake_ct_free(&a);
	cr_expect_eq(fds_on_cgroups(), 3);
	fake_ct_free(&b);
	cr_expect_eq(fds_on_cgroups(), 0);
}

/* The registry frees containers on start and exit all day: what they read must go with them. */
Test(sysinfo_reading, readings_go_with_their_last_container)
{
	unsigned long before = ic_sysinfo_readings();
	struct fake_ct c[8];
	char name[16];

	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < 8; i++) {
			snprintf(name, sizeof(name), "c%d", i % 4);
			fake_cgroup(name, 64, 10, 3);
			fake_ct_init(&c[i], name, 10000);
			(void)ask(&c[i]);
		}
		cr_assert_eq(ic_sysinfo_readings(), before + 4);
		cr_assert_eq(fds_on_cgroups(), 4 * 3);
		for (int i = 0; i < 8; i++)
			fake_ct_free(&c[i]);
		cr_assert_eq(ic_sysinfo_readings(), before);
		cr_assert_eq(fds_on_cgroups(), 0);
	}
}

/* A kept file of a cgroup that is removed answers ENODEV: the reading looks at the path again and
 * answers as for a container whose cgroup is gone (the host's figures), not with a failure. */
Test(sysinfo_reading, a_removed_cgroup_is_read_again_by_its_path)
{
	struct fake_ct a;
	struct sysinfo host;
	char dir[128];

	if (access("/sys/fs/cgroup/memory/memory.stat", R_OK) != 0)
		cr_skip_test("needs the cgroup v1 memory hierarchy at /sys/fs/cgroup/memory");
	snprintf(dir, sizeof(dir), "/sys/fs/cgroup/memory/ic-test-gone-%d", (int)getpid());
	cr_assert_eq(mkdir(dir, 0755), 0, "%s: %s", dir, strerror(errno));
	write_file(dir, "memory.limit_in_bytes", "67108864");
	memset(&a, 0, sizeof(a));
	a.info.cgroup.memory = strdup(dir);
	a.state = calloc(1, ic_sysinfo_state.size);
	cr_assert_not_null(a.state);
	cr_expect_eq(ask(&a).totalram, MIB(64));
	cr_assert_eq(rmdir(dir), 0, "%s: %s", dir, strerror(errno));
	sysinfo(&host);
	cr_expect_eq(ask(&a).totalram, host.totalram);
	fake_ct_free(&a);
}
