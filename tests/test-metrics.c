/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness.h"

/* Integration: a live daemon's `interceptctl metrics` as Prometheus and OpenMetrics consumers
 * read it, and the --json replies' format version (doc/metrics.md, doc/control-json.md). */

static struct ic_test_daemon d;
static char out[1 << 16];

static void teardown(void)
{
	ic_test_daemon_stop(&d);
}

TestSuite(metrics, .fini = teardown, .timeout = 120);

/* A daemon that has served one container's sysinfo, so that histograms are not all empty. */
static void start_and_serve(void)
{
	int r;

	ic_test_daemon_start(&d, NULL, NULL);
	r = ic_test_sh(out, sizeof(out), 60, "%s -c %s -s %s --memory 64M -- %s",
		       ic_test_bin("intercept-run"), d.conf, d.oci,
		       ic_test_bin("tests/sysinfo-probe"));
	cr_assert_eq(r, 0, "%s", out);
	cr_assert(ic_test_stat_reaches(&d, "syscalls.sysinfo.count", 1, 5000));
}

/* `interceptctl metrics OPT` into d.dir/NAME; returns that path. */
static const char *metrics_file(const char *opt, const char *name)
{
	static char path[256];
	int r;

	snprintf(path, sizeof(path), "%s/%s", d.dir, name);
	r = ic_test_sh(out, sizeof(out), 10, "%s -s %s metrics %s > %s",
		       ic_test_bin("interceptctl"), d.ctl, opt, path);
	cr_assert_eq(r, 0, "%s", out);
	return path;
}

Test(metrics, prometheus_text_passes_promtool_check_metrics)
{
	const char *path;
	int r;

	if (access("/usr/bin/promtool", X_OK) != 0)
		cr_skip_test("no promtool: install the Debian package prometheus");
	start_and_serve();
	path = metrics_file("", "metrics.prom");
	/* check metrics also lints: a family without HELP, a counter without _total, ... */
	r = ic_test_sh(out, sizeof(out), 30, "promtool check metrics < %s", path);
	cr_expect_eq(r, 0, "promtool: %s", out);
	ic_test_read_file(path, out, sizeof(out));
	cr_expect(strstr(out, "interceptd_request_duration_seconds_count{syscall=\"sysinfo\"} 1\n"),
		  "%s", out);
	cr_expect(strstr(out, "# TYPE interceptd_requests_received_total counter\n"), "%s", out);
	cr_expect(!strstr(out, "# EOF"), "%s", out);
}

Test(metrics, openmetrics_passes_the_prometheus_client_parser)
{
	const char *path;
	int r;

	if (ic_test_sh(NULL, 0, 30, "/usr/bin/python3 -c 'import prometheus_client'") != 0)
		cr_skip_test("no prometheus_client: install python3-prometheus-client");
	start_and_serve();
	path = metrics_file("--openmetrics", "metrics.om");
	r = ic_test_sh(out, sizeof(out), 30, "/usr/bin/python3 %s/tests/openmetrics-check.py < %s",
		       IC_TOP_SRCDIR, path);
	cr_assert_eq(r, 0, "parser: %s", out);
	cr_expect(strstr(out, "interceptd_request_duration_seconds histogram "), "%s", out);
	cr_expect(strstr(out, "interceptd_requests_received counter 1\n"), "%s", out);
	cr_expect(strstr(out, "interceptd_answers counter "), "%s", out);
	cr_expect(strstr(out, "interceptd_build info 1\n"), "%s", out);
	cr_expect(strstr(out, "interceptd_threads gauge 2\n"), "%s", out);
	ic_test_read_file(path, out, sizeof(out));
	cr_expect(strstr(out, "\n# EOF\n") && out[strlen(out) - 1] == '\n', "%s", out);
}

Test(metrics, every_counter_of_stats_is_exported)
{
	static const char *const names[] = {
	    "interceptd_requests_received_total ",
	    "interceptd_requests_target_gone_total ",
	    "interceptd_requests_queue_full_total ",
	    "interceptd_requests_deadline_missed_total ",
	    "interceptd_answers_total{kind=\"emulated\"} ",
	    "interceptd_answers_total{kind=\"dropped\"} ",
	    "interceptd_syscall_requests_total{syscall=\"sysinfo\"} 1\n",
	    "interceptd_syscall_requests_total{syscall=\"other\"} ",
	    "interceptd_containers ",
	    "interceptd_queue_depth{queue=\"0\"} ",
	    "interceptd_queue_refused_total{queue=\"0\"} ",
	    "interceptd_build_info{version=\"" PACKAGE_VERSION "\"} 1\n"};

	start_and_serve();
	ic_test_read_file(metrics_file("", "metrics.prom"), out, sizeof(out));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		cr_expect(strstr(out, names[i]), "no '%s' in %s", names[i], out);
}

Test(metrics, json_replies_begin_with_their_format_version)
{
	static const char *const cmds[] = {"status --json", "stats --json", "containers --json"};

	ic_test_daemon_start(&d, NULL, NULL);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		cr_expect_eq(ic_test_ctl(&d, out, sizeof(out), cmds[i]), 0, "%s", out);
		cr_expect(!strncmp(out, "{\n  \"format_version\":1,", 23), "%s: %s", cmds[i], out);
	}
	cr_expect_eq(ic_test_ctl(&d, out, sizeof(out), "metrics --json"), 2, "%s", out);
}
