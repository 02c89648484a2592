/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <criterion/criterion.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/proc.h"
#include "tests/containers.h"
#include "tests/harness.h"

/* A host's worth of containers of every kind the daemon serves (runc, crun, intercept-run and
 * unprivileged LXC), all calling sysinfo and mknod in loops, across ten hand-overs to a new
 * server and then ten crashes of it (doc/design.md §13). Each container runs two loops, one per
 * phase, each started by a file appearing: go1, then go2. */

enum { RUNC = 10, CRUN = 10, LXC = 6, IRUN = 24, N = RUNC + CRUN + LXC + IRUN, EVENTS = 10 };
#define SECONDS "7"
#define MIB64	"67108864"
/* Each container calls every 5 ms: fifty of them keep the daemon busy, not the machine (the
 * suite runs two tests at once, and under ASan). */
#define PAUSE "5000"

static struct ic_test_daemon d;
static char out[1 << 16];
static char lxcpath[64];
static pid_t runs[N];
static char ids[N][48], results[N][512]; /* results: where phase 2's loop writes */

static void teardown(void)
{
	for (int i = 0; i < N; i++)
		if (runs[i] > 0) {
			kill(runs[i], SIGKILL);
			waitpid(runs[i], NULL, 0);
		}
	for (int i = 0; i < RUNC + CRUN; i++)
		ic_test_sh(NULL, 0, 30, "runc delete -f %s; crun delete -f %s; true", ids[i],
			   ids[i]);
	if (lxcpath[0])
		ic_test_sh(NULL, 0, 120,
			   "for c in $(lxc-ls -P %s); do lxc-stop -P %s -n $c -k; lxc-destroy -P "
			   "%s -n $c; done >/dev/null 2>&1; rm -rf %s",
			   lxcpath, lxcpath, lxcpath, lxcpath);
	ic_test_daemon_stop(&d);
	ic_test_host_devices_restore();
}

TestSuite(fleet, .fini = teardown, .timeout = 300);

/* What a container runs: wait for GO1, loop, wait for GO2, loop again into the result. */
static void script(char *buf, size_t len, const char *loop, const char *go, const char *node,
		   const char *first)
{
	snprintf(buf, len,
		 "while [ ! -e %s1 ]; do sleep 0.05; done; %s 0 " SECONDS " " MIB64 " %s " PAUSE
		 " > %s 2>&1; while [ ! -e %s2 ]; do sleep 0.05; done; %s 0 " SECONDS " " MIB64
		 " %s " PAUSE,
		 go, loop, node, first, go, loop, node);
}

static void start_oci(int i, const char *rt)
{
	char bundle[256], args[2048], sh[1024], cmd[2048];

	snprintf(ids[i], sizeof(ids[i]), "fleet-%s-%d-%d", rt, i, (int)getpid());
	snprintf(bundle, sizeof(bundle), "%s/b%d", d.dir, i);
	script(sh, sizeof(sh), "loop", "/go", "/tmp/node", "/tmp/phase1");
	snprintf(args, sizeof(args), "\"/bin/sh\", \"-c\", \"%s\"", sh);
	/* In a user namespace, as unprivileged runtimes run: its mknod is the daemon's to make. */
	ic_test_bundle(&d, bundle, rt, args, true,
		       "\"resources\": { \"memory\": { \"limit\": " MIB64 " } }", NULL);
	snprintf(results[i], sizeof(results[i]), "%s/run.out", bundle);
	snprintf(cmd, sizeof(cmd), "cd %s && %s run %s </dev/null >%s 2>&1", bundle,
		 ic_test_runtime_cmd(rt), ids[i], results[i]);
	runs[i] = ic_test_sh_start(cmd);
}

static void start_irun(int i)
{
	char sh[2048], cmd[4096], node[256], first[256], go[256];

	snprintf(ids[i], sizeof(ids[i]), "fleet-ir-%d-%d", i, (int)getpid());
	snprintf(node, sizeof(node), "%s/node%d", d.dir, i);
	snprintf(first, sizeof(first), "%s/phase1-%d", d.dir, i);
	snprintf(go, sizeof(go), "%s/go", d.dir);
	snprintf(results[i], sizeof(results[i]), "%s/ir%d.out", d.dir, i);
	script(sh, sizeof(sh), ic_test_bin("tests/sysinfo-loop"), go, node, first);
	snprintf(cmd, sizeof(cmd),
		 "%s -c %s -s %s --id %s --memory 64M -- /bin/sh -c '%s' >%s 2>&1",
		 ic_test_bin("intercept-run"), d.conf, d.oci, ids[i], sh, results[i]);
	runs[i] = ic_test_sh_start(cmd);
}

static void start_lxc(int i)
{
	char args[512];

	snprintf(ids[i], sizeof(ids[i]), "fleet%d", i);
	/* The init runs `loop ARGS > /tmp/loop.tmp` and moves it to /tmp/loop.out. */
	snprintf(args, sizeof(args),
		 "0 " SECONDS " " MIB64 " /tmp/node " PAUSE " > /tmp/phase1 2>&1; while [ ! -e "
		 "/go2 ]; do sleep 0.05; done; loop 0 " SECONDS " " MIB64 " /tmp/node " PAUSE);
	ic_test_lxc_create(lxcpath, ids[i], true, args);
	ic_test_lxc_start(lxcpath, ids[i]);
	snprintf(results[i], sizeof(results[i]), "%s/%.47s/rootfs/tmp/loop.out", lxcpath, ids[i]);
}

/* Where container i's loop writes its line in phase 1 or 2. */
static void phase_file(int i, int phase, char *path, size_t len)
{
	if (phase == 2)
		snprintf(path, len, "%s", results[i]);
	else if (i < RUNC + CRUN)
		snprintf(path, len, "%s/b%d/rootfs/tmp/phase1", d.dir, i);
	else if (i < RUNC + CRUN + LXC)
		snprintf(path, len, "%s/%.47s/rootfs/tmp/phase1", lxcpath, ids[i]);
	else
		snprintf(path, len, "%s/phase1-%d", d.dir, i);
}

static long long registered(void)
{
	struct json_object *o, *v;
	long long n = -1;

	if (ic_test_ctl(&d, out, sizeof(out), "status --json") != 0)
		return -1;
	o = json_tokener_parse(out);
	if (o && json_object_object_get_ex(o, "containers", &v))
		n = json_object_get_int64(v);
	json_object_put(o);
	return n;
}

static void go(int phase)
{
	int r = ic_test_sh(out, sizeof(out), 30,
			   "touch %s/go%d; for b in %s/b*/rootfs; do touch $b/go%d; done; "
			   "for c in %s/fleet*/rootfs; do touch $c/go%d %s; done",
			   d.dir, phase, d.dir, phase, lxcpath, phase,
			   /* The LXC init's first loop waits for /go. */
			   phase == 1 ? "$c/go" : "");

	cr_assert_eq(r, 0, "%s", out);
}

struct phase_sum {
	long long calls, failures, enosys, worst_us, p99_us, worst_failures;
};

/* Wait for every container's loop of this phase (bounded) and add up what they saw. */
static struct phase_sum collect(int phase, const char *event)
{
	struct phase_sum s = {0};
	char path[320], text[512];

	for (int i = 0; i < N; i++) {
		char *line;
		int r;

		phase_file(i, phase, path, sizeof(path));
		/* The loop's line is there once it finished (the loop's 7 s, a call's 5 s deadline
		 * and room for a busy machine). */
		r = ic_test_sh(
		    text, sizeof(text), 60,
		    "for t in $(seq 450); do grep -h calls= %s 2>/dev/null | tail -n 1 | "
		    "grep . && exit 0; sleep 0.1; done; exit 1",
		    path);
		line = strstr(text, "calls=");
		cr_expect(r == 0 && line, "%s %s: no result in %s", ids[i], event, path);
		if (!line)
			continue;
		s.calls += ic_test_kv(line, "calls");
		s.failures += ic_test_kv(line, "failures");
		if (ic_test_kv(line, "failures") > s.worst_failures)
			s.worst_failures = ic_test_kv(line, "failures");
		s.enosys += ic_test_kv(line, "enosys");
		if (ic_test_kv(line, "max_us") > s.worst_us)
			s.worst_us = ic_test_kv(line, "max_us");
		if (ic_test_kv(line, "p99_us") > s.p99_us)
			s.p99_us = ic_test_kv(line, "p99_us");
		cr_expect_gt(ic_test_kv(line, "calls"), 0, "%s %s: %s", ids[i], event, line);
		cr_expect_eq(ic_test_kv(line, "enosys"), 0, "%s %s: %s", ids[i], event, line);
		cr_expect_lt(ic_test_kv(line, "max_us"), ic_test_call_bound_us(), "%s %s: %s",
			     ids[i], event, line);
		cr_log_info("%s across %d %s: %s", ids[i], EVENTS, event, line);
	}
	cr_log_info("all %d containers across %d %s: %lld calls, %lld failed (%lld ENOSYS), worst "
		    "p99 %lld us, longest call %lld us",
		    N, EVENTS, event, s.calls, s.failures, s.enosys, s.p99_us, s.worst_us);
	return s;
}

Test(fleet, fifty_containers_of_every_kind_across_ten_hand_overs_and_ten_crashes)
{
	uint64_t t_start = ic_now_ns();
	struct phase_sum up, crash;
	long long before;
	int listed = 0;

	ic_test_exclusive();
	ic_test_host_devices_save();
	for (const char *rt = "runc"; rt; rt = strcmp(rt, "runc") == 0 ? "crun" : NULL)
		cr_assert_eq(ic_test_sh(NULL, 0, 10, "command -v %s", rt), 0, "no %s", rt);
	ic_test_daemon_start(&d, NULL,
			     "[policy default]\nsecurity.syscalls.intercept.sysinfo = true\n"
			     "security.syscalls.intercept.mknod = true\n");
	ic_test_lxc_setup(&d, lxcpath);
	for (int i = 0; i < N; i++) {
		if (i < RUNC)
			start_oci(i, "runc");
		else if (i < RUNC + CRUN)
			start_oci(i, "crun");
		else if (i < RUNC + CRUN + LXC)
			start_lxc(i);
		else
			start_irun(i);
	}
	/* Every one registered before the first event. */
	for (int t = 0; t < 300 && registered() < N; t++)
		usleep(100000);
	cr_assert_geq(registered(), N, "%s", out);
	cr_log_info("%d containers registered after %.1f s", N,
		    (double)(ic_now_ns() - t_start) / 1e9);

	/* Ten hand-overs to a new server, alternately by signal and by interceptctl. */
	go(1);
	cr_assert(ic_test_stat_reaches(&d, "received", 5000, 20000), "the containers do not run");
	ic_test_upgrades(&d, EVENTS, 300000);
	up = collect(1, "hand-overs");
	cr_log_info("hand-overs done after %.1f s", (double)(ic_now_ns() - t_start) / 1e9);
	cr_expect_eq(up.failures, 0, "calls failed across the hand-overs");
	/* One more with every container idle: still there, with its policy, before any calls
	 * again (an LXC connection's container comes back with it from the keeper). */
	ic_test_upgrades(&d, 1, 0);
	cr_assert_eq(ic_test_ctl(&d, out, sizeof(out), "containers"), 0);
	for (int i = 0; i < N; i++) {
		char *row = strstr(out, ids[i]);

		listed +=
		    row && strstr(row, "default") && strstr(row, "default") < strchr(row, '\n');
	}
	cr_expect_eq(listed, N, "%s", out);
	/* The counters went on. */
	before = ic_test_stat(&d, "received");
	cr_expect_geq(before, up.calls / 2, "the counters started again: %lld", before);

	/* Ten SIGKILLs of the server at random moments. */
	go(2);
	cr_assert(ic_test_stat_reaches(&d, "received", before + 5000, 20000));

	/* test-keeper holds a restart to a second; here fifty busy containers and the probe
	 * (an interceptctl started per look) share the two CPUs with it. What the containers
	 * saw is below: no call past the deadline. */
	ic_test_kill_servers(&d, EVENTS, 300000, 300000, 2000);
	crash = collect(2, "crashes");
	cr_log_info("crashes done after %.1f s", (double)(ic_now_ns() - t_start) / 1e9);
	/* A call whose side effect had begun at a kill gets the policy's failure answer; one
	 * LXC call in flight at a kill cannot be served again (its datagram died with the
	 * server). Never ENOSYS. */
	cr_expect_eq(crash.enosys, 0);
	cr_expect_leq(crash.worst_failures, EVENTS, "a container had more failed calls than kills");
	for (int i = 0; i < N; i++)
		if (runs[i] > 0) {
			int status = -1;

			for (int t = 0; t < 300 && waitpid(runs[i], &status, WNOHANG) == 0; t++)
				usleep(100000);
			cr_expect(WIFEXITED(status), "%s did not exit", ids[i]);
			if (!WIFEXITED(status))
				kill(runs[i], SIGKILL), waitpid(runs[i], NULL, 0);
			runs[i] = 0;
		}
}
