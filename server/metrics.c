/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/hist.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/proc.h"
#include "handlers/table.h"
#include "server/metrics.h"
#include "server/registry.h"
#include "server/server.h"
#include "server/stats.h"

/* The two formats differ only in a family's name on its HELP and TYPE lines (OpenMetrics names
 * a counter without "_total" and has an "info" type), in "# UNIT" lines and in the final
 * "# EOF"; the samples are the same. doc/metrics.md lists the families. */

enum family_type { FAMILY_GAUGE = 0, FAMILY_COUNTER = 1, FAMILY_HISTOGRAM = 2, FAMILY_INFO = 3 };

/* Histogram bucket bounds are powers of two of nanoseconds, which are boundaries of the
 * log-bucketed histograms (common/hist.h), so each cumulative count is exact: 512 ns to 34 s. */
#define LE_FIRST_SHIFT 9
#define LE_LAST_SHIFT  35

/* name is the family name as OpenMetrics has it: no "_total" for a counter, no "_info" for an
 * info; unit, when not NULL, ends name. */
static void family(FILE *f, bool om, const char *name, enum family_type type, const char *unit,
		   const char *help)
{
	static const char *const suffix[] = {[FAMILY_GAUGE] = "",
					     [FAMILY_COUNTER] = "_total",
					     [FAMILY_HISTOGRAM] = "",
					     [FAMILY_INFO] = "_info"};
	static const char *const om_type[] = {[FAMILY_GAUGE] = "gauge",
					      [FAMILY_COUNTER] = "counter",
					      [FAMILY_HISTOGRAM] = "histogram",
					      [FAMILY_INFO] = "info"};

	if (om) {
		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, om_type[type]);
		if (unit)
			fprintf(f, "# UNIT %s %s\n", name, unit);
		return;
	}
	/* Prometheus text knows no info type: an info is a gauge of value 1. */
	fprintf(f, "# HELP %s%s %s\n# TYPE %s%s %s\n", name, suffix[type], help, name, suffix[type],
		type == FAMILY_INFO ? "gauge" : om_type[type]);
}

static void histogram(FILE *f, const char *name, const char *syscall, const struct ic_hist *h)
{
	uint64_t total = 0;

	for (unsigned s = LE_FIRST_SHIFT; s <= LE_LAST_SHIFT; s++)
		fprintf(f, "%s_bucket{syscall=\"%s\",le=\"%.12g\"} %llu\n", name, syscall,
			(double)(1ULL << s) / 1e9,
			(unsigned long long)ic_hist_count_below(h, 1ULL << s));
	/* _count is the +Inf bucket, not h->count: the buckets were read one by one from live
	 * counters, and the two must agree. */
	for (unsigned i = 0; i < IC_HIST_BUCKETS; i++)
		total += h->buckets[i];
	fprintf(f, "%s_bucket{syscall=\"%s\",le=\"+Inf\"} %llu\n", name, syscall,
		(unsigned long long)total);
	fprintf(f, "%s_sum{syscall=\"%s\"} %.9f\n", name, syscall, (double)h->sum_ns / 1e9);
	fprintf(f, "%s_count{syscall=\"%s\"} %llu\n", name, syscall, (unsigned long long)total);
}

static void counter(FILE *f, bool om, const char *name, const char *help, uint64_t v)
{
	family(f, om, name, FAMILY_COUNTER, NULL, help);
	fprintf(f, "%s_total %llu\n", name, (unsigned long long)v);
}

static void gauge(FILE *f, bool om, const char *name, const char *unit, const char *help, double v)
{
	family(f, om, name, FAMILY_GAUGE, unit, help);
	fprintf(f, "%s %.12g\n", name, v);
}

/* The table's rows, then IC_SYS_MAX for "other"; indices between are no row. */
static int next_sys(int i)
{
	return i + 1 < (int)ic_n_syscalls ? i + 1 : i < IC_SYS_MAX ? IC_SYS_MAX : IC_STATS_SYS;
}

static const char *sys_label(int i)
{
	return i < IC_SYS_MAX ? ic_syscall_name(&ic_syscalls[i]) : "other";
}

void ic_metrics_write(FILE *f, bool om)
{
	_cleanup_free_ struct ic_stats *st = calloc(1, sizeof(*st));
	struct ic_server_status ss;
	uint64_t depth, full;

	if (!st)
		return;
	ic_server_stats(st);
	ic_server_status(&ss);

	family(f, om, "interceptd_build", FAMILY_INFO, NULL, "The daemon's version.");
	fprintf(f, "interceptd_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
	gauge(f, om, "interceptd_uptime_seconds", "seconds", "Time since the daemon started.",
	      (double)(ic_now_ns() - ss.started_ns) / 1e9);
	counter(f, om, "interceptd_reloads", "Configuration reloads that took effect.", ss.reloads);

	family(f, om, "interceptd_threads", FAMILY_GAUGE, NULL,
	       "Acceptor and worker threads running now.");
	fprintf(f, "interceptd_threads{role=\"acceptor\"} %u\n", ss.acceptors);
	fprintf(f, "interceptd_threads{role=\"worker\"} %u\n", ss.workers);
	gauge(f, om, "interceptd_containers", NULL, "Containers registered now.",
	      (double)ic_registry_count());

	counter(f, om, "interceptd_requests_received", "Notifications received.", st->received);
	counter(f, om, "interceptd_requests_target_gone",
		"Receives that found the target already gone (interrupted or dead).",
		st->recv_gone);
	counter(f, om, "interceptd_requests_queue_full",
		"Requests given the failure answer because their CPU's queue was full.",
		st->queue_full);
	counter(f, om, "interceptd_requests_deadline_missed",
		"Requests given the failure answer because their deadline passed.",
		st->deadline_missed);

	family(f, om, "interceptd_answers", FAMILY_COUNTER, NULL,
	       "Answers sent, by kind: emulated, continued, errno, failed, dropped.");
	for (int a = 0; a < _IC_ANSWER_MAX; a++)
		fprintf(f, "interceptd_answers_total{kind=\"%s\"} %llu\n", ic_answer_name(a),
			(unsigned long long)st->answers[a]);

	family(f, om, "interceptd_syscall_requests", FAMILY_COUNTER, NULL,
	       "Requests answered, by syscall (\"other\": none of the table's).");
	for (int i = 0; i < IC_STATS_SYS; i = next_sys(i))
		fprintf(f, "interceptd_syscall_requests_total{syscall=\"%s\"} %llu\n", sys_label(i),
			(unsigned long long)st->by_sys[i]);

	family(f, om, "interceptd_request_duration_seconds", FAMILY_HISTOGRAM, "seconds",
	       "From receive to answer, by syscall.");
	for (int i = 0; i < IC_STATS_SYS; i = next_sys(i))
		histogram(f, "interceptd_request_duration_seconds", sys_label(i), &st->latency[i]);

	counter(f, om, "interceptd_log_lines_suppressed",
		"Log lines held back by the per-container budget (log.ratelimit.*).",
		ic_log_suppressed_total());

	family(f, om, "interceptd_queue_depth", FAMILY_GAUGE, NULL,
	       "Requests waiting in each CPU's queue.");
	for (unsigned q = 0; ic_server_queue_info(q, &depth, &full); q++)
		fprintf(f, "interceptd_queue_depth{queue=\"%u\"} %llu\n", q,
			(unsigned long long)depth);
	family(f, om, "interceptd_queue_refused", FAMILY_COUNTER, NULL,
	       "Pushes each CPU's queue refused for capacity.");
	for (unsigned q = 0; ic_server_queue_info(q, &depth, &full); q++)
		fprintf(f, "interceptd_queue_refused_total{queue=\"%u\"} %llu\n", q,
			(unsigned long long)full);
	if (om)
		fprintf(f, "# EOF\n");
}
