/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "common/proc.h"
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
