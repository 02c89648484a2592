/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness.h"

/* Integration: sched_setscheduler through the real daemon, in --userns containers running the
 * host's chrt. Real-time priorities are bounded by sched.max_rt_priority = 10. */

static struct ic_test_daemon d;
static char out[1 << 16];

static void setup(void)
{
	ic_test_daemon_start(
	    &d, NULL,
	    "[policy default]\nsecurity.syscalls.intercept.sched_setscheduler = true\n"
	    "sched.max_rt_priority = 10\n");
}

static void teardown(void)
{
	ic_test_daemon_stop(&d);
}

TestSuite(sched, .init = setup, .fini = teardown, .timeout = 120);

/* sh -c SCRIPT in a --userns container; output in out. */
static void ct(const char *script)
{
	int r = ic_test_sh(out, sizeof(out), 60, "%s -c %s -s %s --userns -- /bin/sh -c '%s'",
			   ic_test_bin("intercept-run"), d.conf, d.oci, script);

	cr_assert_eq(r, 0, "%s: %s", script, out);
}

Test(sched, root_sets_fifo_on_itself_and_a_sibling_up_to_the_bound)
{
	ct("sleep 3.125 & S=$!; chrt -f -p 10 $$; echo self=$?; chrt -f -p 10 $S; echo sib=$?; "
	   "chrt -f -p 11 $S 2>/dev/null; echo over=$?; chrt -p $$ | tail -1; kill $S");
	cr_expect_eq(ic_test_kv(out, "self"), 0, "%s", out);
	cr_expect_eq(ic_test_kv(out, "sib"), 0, "%s", out);
	cr_expect_eq(ic_test_kv(out, "over"), 1, "priority 11 must be refused: %s", out);
	cr_expect(strstr(out, "current scheduling priority: 10"), "%s", out);
	cr_expect(ic_test_log_has(&d, "sched_setscheduler(0 -> host") ||
		      ic_test_log_has(&d, "sched_setscheduler(1 -> host"),
		  "not done by the daemon");
}

Test(sched, host_sees_the_real_time_policy)
{
	int r;

	/* The sibling carries a marker so the host can find it while it lives; the host looks
	 * once the container has said its chrt is done (bounded), then ends the sibling. */
	r = ic_test_sh(
	    out, sizeof(out), 60,
	    "o=$(mktemp); %s -c %s -s %s --userns -- /bin/sh -c 'sleep 30.321 & "
	    "chrt -r -p 7 $!; echo set=$?; wait; true' >$o 2>&1 & c=$!; "
	    "for i in $(seq 300); do grep -q set= $o && break; sleep 0.1; done; cat $o; "
	    "p=$(pgrep -f \"^sleep 30.321$\" | head -1); chrt -p $p; kill $p; wait $c; rc=$?; "
	    "rm -f $o; exit $rc",
	    ic_test_bin("intercept-run"), d.conf, d.oci);
	cr_expect_eq(r, 0, "%s", out);
	cr_expect_eq(ic_test_kv(out, "set"), 0, "%s", out);
	cr_expect(strstr(out, "SCHED_RR") && strstr(out, "priority: 7"), "host view: %s", out);
}

Test(sched, pids_outside_the_container_are_not_found)
{
	char script[256];

	/* The test's own pid is a host pid the container cannot see. */
	snprintf(script, sizeof(script), "chrt -f -p 5 %d 2>&1; echo rc=$?", (int)getpid());
	ct(script);
	cr_expect(strstr(out, "No such process"), "%s", out);
}

Test(sched, non_root_and_non_realtime_are_the_kernels)
{
	ct("setpriv --reuid 1000 --regid 1000 --clear-groups chrt -f -p 5 $$ 2>&1; echo user=$?; "
	   "chrt -b -p 0 $$; echo batch=$?; chrt -i -p 0 $$; echo idle=$?");
	cr_expect_eq(ic_test_kv(out, "user"), 1, "%s", out);
	cr_expect(strstr(out, "Operation not permitted"), "%s", out);
	cr_expect_eq(ic_test_kv(out, "batch"), 0, "%s", out);
	cr_expect_eq(ic_test_kv(out, "idle"), 0, "%s", out);
}
