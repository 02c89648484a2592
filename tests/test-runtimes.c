/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/containers.h"
#include "tests/harness.h"

/* Integration: real runtimes (Debian's runc and crun) hand their listeners to the daemon. */

static struct ic_test_daemon d;
static char out[1 << 16];
static char bundle[256];
static char id[64];
static char parent[64]; /* a limited parent cgroup a test made, removed by teardown */

static const char *bundle_policy; /* the policy --print oci writes; NULL: default */

#define POLICIES                                                                                   \
	"[policy default]\nsecurity.syscalls.intercept.sysinfo = true\n"                           \
	"security.syscalls.intercept.mknod = true\n"                                               \
	"security.syscalls.intercept.setxattr = true\n"

static void setup(void)
{
	ic_test_host_devices_save();
	ic_test_daemon_start(&d, NULL, POLICIES);
}

static void teardown(void)
{
	/* Whatever a failed test left running. */
	ic_test_sh(NULL, 0, 30, "runc delete -f %s; crun delete -f %s; true", id, id);
	if (parent[0])
		ic_test_sh(
		    NULL, 0, 30,
		    "find /sys/fs/cgroup/*/%s /sys/fs/cgroup/%s -depth -type d -exec rmdir {} "
		    "\\; 2>/dev/null; true",
		    parent, parent);
	ic_test_daemon_stop(&d);
	ic_test_host_devices_restore();
}

TestSuite(runtimes, .init = setup, .fini = teardown, .timeout = 180);

#define LIMIT_64M "\"resources\": { \"memory\": { \"limit\": 67108864 } }"

static void make_bundle_ex(const char *rt, const char *args, bool userns, const char *cgroup)
{
	snprintf(id, sizeof(id), "ic-%s-%d", rt, (int)getpid());
	snprintf(bundle, sizeof(bundle), "%s/bundle", d.dir);
	ic_test_bundle(&d, bundle, rt, args, userns, cgroup, bundle_policy);
}

static void make_bundle(const char *rt, const char *args)
{
	make_bundle_ex(rt, args, false, LIMIT_64M);
}

static void runtime_sees_its_memory_limit(const char *rt)
{
	int r;

	cr_assert_eq(ic_test_sh(NULL, 0, 10, "command -v %s", rt), 0, "%s is not installed", rt);
	make_bundle(rt, "\"/bin/sh\", \"-c\", \"free; probe\"");
	r = ic_test_sh(out, sizeof(out), 60, "cd %s && %s run %s </dev/null", bundle,
		       ic_test_runtime_cmd(rt), id);
	cr_assert_eq(r, 0, "%s run failed: %s", rt, out);
	cr_expect_eq(ic_test_kv(out, "totalram"), 64LL << 20, "%s", out);
	/* busybox free prints KiB: total 65536. */
	cr_expect(strstr(out, "65536"), "free did not show 64 MiB: %s", out);
	cr_expect(ic_test_log_has(&d, id), "the daemon never saw %s", id);
	cr_expect(ic_test_stat_reaches(&d, "answers.emulated", 2, 5000), "counter %s",
		  "answers.emulated");
}

/* The container calls sysinfo for 5 s while the server is killed, then the daemon upgraded:
 * every call answered with its own 64 MiB, none past the request deadline. */
static void container_outlives_a_server_kill_and_an_upgrade(const char *rt)
{
	char cmd[1024], path[256];
	pid_t run;
	int status;

	cr_assert_eq(ic_test_sh(NULL, 0, 10, "command -v %s", rt), 0, "%s is not installed", rt);
	make_bundle(rt, "\"/bin/loop\", \"0\", \"5\", \"67108864\"");
	snprintf(path, sizeof(path), "%s/run.out", d.dir);
	snprintf(cmd, sizeof(cmd), "cd %s && %s run %s </dev/null >%s 2>&1", bundle,
		 ic_test_runtime_cmd(rt), id, path);
	run = ic_test_sh_start(cmd);
	cr_assert(ic_test_stat_reaches(&d, "received", 1000, 20000), "the container does not run");
	ic_test_kill_then_upgrade(&d);
	cr_assert_eq(waitpid(run, &status, 0), run);
	ic_test_read_file(path, out, sizeof(out));
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: %s", rt, out);
	cr_expect_eq(ic_test_kv(out, "failures"), 0, "%s: %s", rt, out);
	cr_expect_gt(ic_test_kv(out, "calls"), 1000, "%s: %s", rt, out);
	cr_expect_lt(ic_test_kv(out, "max_us"), ic_test_call_bound_us(), "%s: %s", rt, out);
	cr_log_info("%s across a kill and an upgrade: %s", rt, out);
}

Test(runtimes, runc_container_outlives_a_server_kill_and_an_upgrade)
{
	container_outlives_a_server_kill_and_an_upgrade("runc");
}

Test(runtimes, crun_container_outlives_a_server_kill_and_an_upgrade)
{
	container_outlives_a_server_kill_and_an_upgrade("crun");
}

Test(runtimes, runc_container_sees_its_memory_limit)
{
	runtime_sees_its_memory_limit("runc");
}

Test(runtimes, crun_container_sees_its_memory_limit)
{
	runtime_sees_its_memory_limit("crun");
}

static void unprivileged_mknod_works(const char *rt)
{
	int r;

	make_bundle_ex(rt,
		       "\"/bin/sh\", \"-c\", \"mknod /dev/mynull c 1 3 && echo ok > /dev/mynull && "
		       "echo wrote-ok\"",
		       true, LIMIT_64M);
	r = ic_test_sh(out, sizeof(out), 60, "cd %s && %s run %s </dev/null", bundle,
		       ic_test_runtime_cmd(rt), id);
	cr_expect_eq(r, 0, "%s run failed: %s", rt, out);
	cr_expect(strstr(out, "wrote-ok"), "%s: %s", rt, out);
	cr_expect(ic_test_log_has(&d, "mknod /dev/mynull c 1:3"),
		  "the daemon did not make the node");
}

Test(runtimes, runc_user_namespace_container_makes_a_usable_dev_null)
{
	unprivileged_mknod_works("runc");
}

Test(runtimes, crun_user_namespace_container_makes_a_usable_dev_null)
{
	unprivileged_mknod_works("crun");
}

/* runc run -d of a sleeping container, then runc exec of the probe in it: its exit code. */
static int runc_sleeper_then_probe(void)
{
	int r;

	make_bundle("runc", "\"/bin/sleep\", \"30\"");
	r = ic_test_sh(out, sizeof(out), 60, "cd %s && runc run -d %s </dev/null >/dev/null 2>&1",
		       bundle, id);
	cr_assert_eq(r, 0, "runc run -d failed: %s", out);
	return ic_test_sh(out, sizeof(out), 60, "runc exec %s /bin/probe </dev/null", id);
}

Test(runtimes, runc_exec_joins_the_same_container)
{
	int r = runc_sleeper_then_probe();

	cr_assert_eq(r, 0, "runc exec failed: %s", out);
	cr_expect_eq(ic_test_kv(out, "totalram"), 64LL << 20, "%s", out);
	cr_expect(ic_test_log_wait(&d, "another listener", 5000),
		  "exec did not join the container");
	cr_expect_eq(ic_test_ctl(&d, out, sizeof(out), "containers --json"), 0);
	cr_expect(strstr(out, id), "%s", out);
	ic_test_sh(NULL, 0, 30, "runc delete -f %s", id);
}

/* A pod, a systemd slice or podman --cgroup-parent: the limit sits on a parent, and the kernel
 * holds the container to it. */
Test(runtimes, runc_container_without_a_limit_sees_its_parents_limit)
{
	char cg[256];
	int r;

	snprintf(parent, sizeof(parent), "ic-parent-%d", (int)getpid());
	r = ic_test_sh(out, sizeof(out), 30,
		       "set -e; if [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then "
		       "mkdir /sys/fs/cgroup/memory/%s; "
		       "echo 67108864 > /sys/fs/cgroup/memory/%s/memory.limit_in_bytes; else "
		       "echo +memory > /sys/fs/cgroup/cgroup.subtree_control; "
		       "mkdir /sys/fs/cgroup/%s; echo 67108864 > /sys/fs/cgroup/%s/memory.max; fi",
		       parent, parent, parent, parent);
	cr_assert_eq(r, 0, "cannot make the parent cgroup: %s", out);
	snprintf(cg, sizeof(cg), "\"cgroupsPath\": \"/%s/ctr\", \"resources\": {}", parent);
	make_bundle_ex("runc", "\"/bin/sh\", \"-c\", \"free; probe\"", false, cg);
	r = ic_test_sh(out, sizeof(out), 60, "cd %s && runc run %s </dev/null", bundle, id);
	cr_assert_eq(r, 0, "runc run failed: %s", out);
	cr_expect_eq(ic_test_kv(out, "totalram"), 64LL << 20, "%s", out);
	cr_expect(strstr(out, "65536"), "free did not show the parent's 64 MiB: %s", out);
}

/* A profile naming a policy the daemon has not loaded yet (its config edited, not reloaded):
 * the container's calls get the kernel's own answers, never ENOSYS, and `interceptctl
 * containers` says why; a reload brings the policy to the running container. */
Test(runtimes, runc_container_with_a_policy_not_yet_loaded_gets_the_kernels_answers_until_reload)
{
	struct sysinfo host;
	int r;

	ic_test_daemon_rewrite(
	    &d, NULL, POLICIES "[policy later]\nsecurity.syscalls.intercept.sysinfo = true\n");
	bundle_policy = "later";
	r = runc_sleeper_then_probe();
	cr_expect_eq(r, 0, "sysinfo failed in the container: %s", out);
	sysinfo(&host);
	cr_expect_eq(ic_test_kv(out, "totalram"), (long long)host.totalram, "%s", out);
	cr_expect_eq(ic_test_ctl(&d, out, sizeof(out), "containers"), 0);
	cr_expect(strstr(out, id) && strstr(out, "unknown policy"), "%s", out);

	cr_assert_eq(ic_test_ctl(&d, out, sizeof(out), "reload"), 0, "%s", out);
	r = ic_test_sh(out, sizeof(out), 60, "runc exec %s /bin/probe </dev/null", id);
	cr_expect_eq(r, 0, "%s", out);
	cr_expect_eq(ic_test_kv(out, "totalram"), 64LL << 20, "%s", out);
	cr_expect_eq(ic_test_ctl(&d, out, sizeof(out), "containers"), 0);
	cr_expect_null(strstr(out, "unknown policy"), "%s", out);
	ic_test_sh(NULL, 0, 30, "runc delete -f %s", id);
}

/* podman (>= 4.1) with the profile `intercept-run --print oci --base` merges into podman's own
 * default: our rules are served (mknod of a safe device), the default still decides the rest
 * (a FIFO, which it allows; vmsplice, which it does not list), and nothing of podman's is
 * lost. Rootful podman in a user namespace, state kept under the test directory. */
Test(runtimes, podman_with_our_rules_merged_into_its_default_profile)
{
	const char *def = "/usr/share/containers/seccomp.json";
	char native[128];
	int r;

	cr_assert_eq(ic_test_sh(NULL, 0, 10, "command -v podman && test -f %s", def), 0,
		     "podman (and its default profile %s) is not installed", def);
	snprintf(parent, sizeof(parent), "ic-podman-%d", (int)getpid());
	r = ic_test_sh(
	    out, sizeof(out), 30,
	    "set -e; P=%s/podman; R=$P/rootfs; mkdir -p $R/bin $R/dev $R/proc $R/sys $R/tmp "
	    "$R/etc; cp /bin/busybox %s $R/bin/; for a in sh mknod mkfifo echo; do ln -s "
	    "busybox $R/bin/$a; done; chown -R 100000:100000 $R; chmod 755 %s $P; "
	    "%s --print oci --base %s -c %s -s %s > $P/merged.json",
	    d.dir, ic_test_bin("tests/ictool"), d.dir, ic_test_bin("intercept-run"), def, d.conf,
	    d.oci);
	cr_assert_eq(r, 0, "%s", out);
	r = ic_test_sh(
	    out, sizeof(out), 120,
	    "P=%s/podman; podman --root $P/storage --runroot $P/run --tmpdir $P/tmp "
	    "--events-backend none --cgroup-manager cgroupfs --runtime runc run --rm "
	    "--network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "
	    "--uidmap 0:100000:65536 --gidmap 0:100000:65536 --cap-add MKNOD "
	    "--cgroup-parent /%s --security-opt seccomp=$P/merged.json --rootfs $P/rootfs "
	    "/bin/sh -c 'mknod /dev/x c 1 3 && echo hi > /dev/x && echo mknod=ok; "
	    "mkfifo /tmp/f && echo fifo=ok; ictool vmsplice-badfd' </dev/null",
	    d.dir, parent);
	ic_test_sh(native, sizeof(native), 10, "%s vmsplice-badfd", ic_test_bin("tests/ictool"));
	cr_assert_eq(r, 0, "podman run failed: %s", out);
	cr_expect(strstr(out, "mknod=ok"), "%s", out);
	cr_expect(ic_test_log_has(&d, "mknod /dev/x c 1:3"), "the daemon did not make the node");
	cr_expect(strstr(out, "fifo=ok"), "the default's ALLOW of a FIFO was lost: %s", out);
	cr_expect_eq(ic_test_kv(native, "errno"), EBADF, "%s", native);
	cr_expect_eq(ic_test_kv(out, "errno"), EPERM, "podman's default no longer refuses: %s",
		     out);
}

/* Conditions of the base's own on a syscall we notify cannot be combined with ours safely (the
 * two sets could overlap with different actions): say so rather than print a wrong profile. */
Test(runtimes, merge_refuses_a_default_with_argument_conditions_on_our_syscalls)
{
	int r = ic_test_sh(
	    out, sizeof(out), 30,
	    "echo '{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"mknod\"], "
	    "\"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 1, \"value\": 4096, \"op\": "
	    "\"SCMP_CMP_EQ\"}]}]}' > %s/base.json && %s --print oci --base %s/base.json -c %s",
	    d.dir, ic_test_bin("intercept-run"), d.dir, d.conf);

	cr_expect_neq(r, 0, "%s", out);
	cr_expect(strstr(out, "rule for mknod has argument conditions"), "%s", out);
}
