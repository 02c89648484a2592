/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness.h"

/* Integration: device-cgroup eBPF programs through the real daemon, from a --userns container
 * placed (by the host, as a runtime would) in a delegated cgroup2 directory. */

static struct ic_test_daemon d;
static char out[1 << 16];
static char cg[256];

static void setup(void)
{
	char mnt[256] = "";
	int r;

	ic_test_daemon_start(&d, NULL,
			     "[policy default]\nsecurity.syscalls.intercept.bpf = true\n"
			     "security.syscalls.intercept.bpf.devices = true\n");
	r = ic_test_sh(mnt, sizeof(mnt), 10,
		       "findmnt -n -t cgroup2 -o TARGET | head -1 | tr -d '\\n'");
	cr_assert(r == 0 && mnt[0], "no cgroup2 hierarchy mounted");
	snprintf(cg, sizeof(cg), "%s/ic-test-bpf-%d", mnt, (int)getpid());
	/* Delegated to the container's root (host 100000). */
	r = ic_test_sh(
	    out, sizeof(out), 10,
	    "mkdir %s && chown 100000:100000 %s %s/cgroup.procs %s/cgroup.subtree_control "
	    "%s/cgroup.threads",
	    cg, cg, cg, cg, cg);
	cr_assert_eq(r, 0, "%s", out);
}

static void teardown(void)
{
	if (cg[0])
		ic_test_sh(NULL, 0, 10, "rmdir %s/child %s 2>/dev/null; true", cg, cg);
	ic_test_daemon_stop(&d);
}

TestSuite(bpf, .init = setup, .fini = teardown, .timeout = 120);

/* bpfprobe ARGS in a --userns container inside cg. */
static void ct(const char *args)
{
	int r = ic_test_sh(out, sizeof(out), 60,
			   "echo $$ > %s/cgroup.procs && exec %s -c %s -s %s --userns -- %s %s", cg,
			   ic_test_bin("intercept-run"), d.conf, d.oci,
			   ic_test_bin("tests/bpfprobe"), args);

	cr_assert_eq(r, 0, "%s: %s", args, out);
}

Test(bpf, container_narrows_its_device_access_with_a_program_of_its_own)
{
	char args[300];

	snprintf(args, sizeof(args), "scenario %s", cg);
	ct(args);
	cr_expect_eq(ic_test_kv(out, "load"), 0, "%s", out);
	cr_expect_eq(ic_test_kv(out, "cloexec"), 1, "the injected fd must be O_CLOEXEC: %s", out);
	cr_expect_eq(ic_test_kv(out, "nomulti"), EPERM, "attach without ALLOW_MULTI: %s", out);
	cr_expect_eq(ic_test_kv(out, "attach"), 0, "%s", out);
	cr_expect_eq(ic_test_kv(out, "child_null"), EPERM, "the program did not deny 1:3: %s", out);
	cr_expect_eq(ic_test_kv(out, "child_zero"), 0, "%s", out);
	cr_expect_eq(ic_test_kv(out, "here_null"), 0, "the parent cgroup was affected: %s", out);
	cr_expect_eq(ic_test_kv(out, "detach"), 0, "%s", out);
	cr_expect_eq(ic_test_kv(out, "after_null"), 0, "still denied after detach: %s", out);
	cr_expect_eq(ic_test_kv(out, "huge"), E2BIG, "%s", out);
	cr_expect_eq(ic_test_kv(out, "badptr"), EFAULT, "%s", out);
	cr_expect_neq(ic_test_kv(out, "socketfilter"), 0,
		      "a socket filter must be the kernel's: %s", out);
	cr_expect(ic_test_log_has(&d, "bpf PROG_LOAD cgroup-device"));
	cr_expect(ic_test_stat_reaches(&d, "answers.continued", 1, 5000),
		  "socket filter continued");
}

Test(bpf, host_program_still_denies_what_the_container_allows)
{
	char args[300];
	int r;

	r = ic_test_sh(out, sizeof(out), 30, "%s host-deny %s 1 5", ic_test_bin("tests/bpfprobe"),
		       cg);
	cr_assert_eq(r, 0, "%s", out);
	snprintf(args, sizeof(args), "allowall %s", cg);
	ct(args);
	cr_expect_eq(ic_test_kv(out, "attach"), 0, "%s", out);
	cr_expect_eq(ic_test_kv(out, "child_zero"), EPERM, "the container overrode the host: %s",
		     out);
	cr_expect_eq(ic_test_kv(out, "child_null"), 0, "%s", out);
}

Test(bpf, cgroups_outside_the_container_are_refused)
{
	char args[300], parent[256];

	snprintf(parent, sizeof(parent), "%s", cg);
	*strrchr(parent, '/') = 0;
	snprintf(args, sizeof(args), "attach-to %s", parent);
	ct(args);
	cr_expect_eq(ic_test_kv(out, "outside"), EPERM, "attached above its own cgroup: %s", out);
}
