/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"
#include "common/macros.h"

/* The results as people read them: a table with ratios to the native call and to the minimal
 * agents (val-0 and same-work), a CSV of everything, an SVG plot of the scaling runs, and the
 * issue's targets. */

static const struct ic_bench_result *find(const struct ic_bench_result *r, size_t n,
					  const char *section, enum ic_bench_under under,
					  enum ic_bench_workload wl, int busy, int idle)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(r[i].c.section, section) && r[i].c.under == under && r[i].c.wl == wl &&
		    r[i].c.busy == busy && r[i].c.idle == idle && r[i].c.paced == 0)
			return &r[i];
	return NULL;
}

/* The minimal agent of a kind (val-0 or same-work) a row is held against: the epoll agent with
 * as many busy targets when it was run, else the one-target agent for the same syscall. */
static const struct ic_bench_result *agent_for(const struct ic_bench_result *r, size_t n,
					       const struct ic_bench_result *x, bool same_work)
{
	const struct ic_bench_result *a = NULL;

	if (x->c.busy > 1 && x->c.idle == 0 && x->c.paced == 0)
		a = find(r, n, "scaling",
			 same_work ? IC_BENCH_SAMEWORK_EPOLL : IC_BENCH_AGENT_EPOLL, x->c.wl,
			 x->c.busy, 0);
	return a ? a
		 : find(r, n, "single", same_work ? IC_BENCH_SAMEWORK : IC_BENCH_AGENT, x->c.wl, 1,
			0);
}

/* x / y where both are known (unknown figures are < 0), else unknown. */
static double quotient(double x, double y)
{
	return x >= 0 && y > 0 ? x / y : -1;
}

void ic_bench_ratios(struct ic_bench_result *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct ic_bench_result *nat =
		    find(r, n, "single", IC_BENCH_NATIVE, r[i].c.wl, 1, 0);
		const struct ic_bench_result *v = agent_for(r, n, &r[i], false);
		const struct ic_bench_result *w = agent_for(r, n, &r[i], true);

		r[i].ratio_native = nat ? quotient(r[i].p50_us, nat->p50_us) : -1;
		r[i].ratio_val0_p50 = v ? quotient(r[i].p50_us, v->p50_us) : -1;
		r[i].ratio_val0_tput = v ? quotient(r[i].calls_per_s, v->calls_per_s) : -1;
		r[i].ratio_sw_p50 = w ? quotient(r[i].p50_us, w->p50_us) : -1;
		r[i].ratio_sw_p99 = w ? quotient(r[i].p99_us, w->p99_us) : -1;
		r[i].ratio_sw_tput = w ? quotient(r[i].calls_per_s, w->calls_per_s) : -1;
	}
}

static void server_label(const struct ic_bench_case *c, char *buf, size_t len)
{
	char a[12] = "auto", w[12] = "auto";

	switch (c->under) {
	case IC_BENCH_AGENT_EPOLL:
	case IC_BENCH_SAMEWORK_EPOLL:
		snprintf(buf, len, "%s(%dt)", ic_bench_under_name[c->under], c->agent_threads);
		break;
	case IC_BENCH_DAEMON:
		if (c->acceptors)
			snprintf(a, sizeof(a), "%d", c->acceptors);
		if (c->workers)
			snprintf(w, sizeof(w), "%d", c->workers);
		if (c->acceptors || c->workers)
			snprintf(buf, len, "interceptd(%sa/%sw)", a, w);
		else
			snprintf(buf, len, "interceptd");
		break;
	default:
		snprintf(buf, len, "%s", ic_bench_under_name[c->under]);
		break;
	}
}

static void containers_label(const struct ic_bench_case *c, char *buf, size_t len)
{
	if (c->paced && c->run)
		snprintf(buf, len, "%d paced+%d%s #%d", c->paced, c->busy,
			 c->busy ? (c->busy_share_id ? " flood" : " busy") : "", c->run);
	else if (c->paced)
		snprintf(buf, len, "%d paced+%d%s", c->paced, c->busy,
			 c->busy ? (c->busy_share_id ? " flood" : " busy") : "");
	else if (c->idle)
		snprintf(buf, len, "%d+%d idle", c->busy, c->idle);
	else
		snprintf(buf, len, "%d", c->busy);
}

/* A figure, or n/a where it is unknown (< 0). */
static void num(FILE *f, int width, double x)
{
	if (x < 0)
		fprintf(f, " %*s", width, "n/a");
	else
		fprintf(f, " %*.2f", width, x);
}

static void ratio(FILE *f, int width, double x)
{
	if (x < 0)
		fprintf(f, " %*s", width, "n/a");
	else
		fprintf(f, " %*.2fx", width - 1, x);
}

static const struct ic_bench_result *fairness_row(const struct ic_bench_result *r, size_t n,
						  int run, bool flood)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(r[i].c.section, "fairness") && r[i].c.run == run &&
		    (r[i].c.busy > 0) == flood)
			return &r[i];
	return NULL;
}

static int fairness_runs(const struct ic_bench_result *r, size_t n)
{
	int runs = 0;

	for (size_t i = 0; i < n; i++)
		if (!strcmp(r[i].c.section, "fairness") && r[i].c.run > runs)
			runs = r[i].c.run;
	return runs;
}

void ic_bench_table(FILE *f, const struct ic_bench_result *r, size_t n)
{
	int runs = fairness_runs(r, n);

	fprintf(f,
		"ratios: /nat = to the native call's p50; /val0 = to the val-0 agent (RECV, SEND "
		"val 0: the kernel's floor);\n"
		"        /sw = to the same-work agent (RECV, NOTIF_ID_VALID, process_vm_writev of "
		"the struct sysinfo, SEND val 0);\n"
		"        for 2 or more busy containers each agent's epoll flavour with as many, "
		"where it ran; else its one-thread flavour\n\n");
	fprintf(f, "%-9s %-26s %-9s %-18s %9s %9s %9s %10s %8s %8s %8s %8s %9s %8s\n", "section",
		"server", "workload", "containers", "p50_us", "p99_us", "p99.9_us", "calls/s",
		"p50/nat", "p50/val0", "p50/sw", "p99/sw", "tput/val0", "tput/sw");
	for (size_t i = 0; i < n; i++) {
		char srv[40], ctr[40];

		server_label(&r[i].c, srv, sizeof(srv));
		containers_label(&r[i].c, ctr, sizeof(ctr));
		fprintf(f, "%-9s %-26s %-9s %-18s", r[i].c.section, srv,
			ic_bench_workload_name[r[i].c.wl], ctr);
		num(f, 9, r[i].p50_us);
		num(f, 9, r[i].p99_us);
		num(f, 9, r[i].p999_us);
		fprintf(f, " %10.0f", r[i].calls_per_s);
		ratio(f, 8, r[i].ratio_native);
		ratio(f, 8, r[i].ratio_val0_p50);
		ratio(f, 8, r[i].ratio_sw_p50);
		ratio(f, 8, r[i].ratio_sw_p99);
		ratio(f, 9, r[i].ratio_val0_tput);
		ratio(f, 8, r[i].ratio_sw_tput);
		fputc('\n', f);
	}
	fprintf(f,
		"\ndensity (interceptd, 1 busy + idle registered containers; memory: RSS growth "
		"while they register, / containers, of both interceptd processes, the server and "
		"the keeper):\n");
	fprintf(f, "  %-12s %14s %14s %21s %12s %16s\n", "containers", "server KiB/ctr",
		"keeper KiB/ctr", "server+keeper KiB/ctr", "busy p99_us", "p99/p99(1 ctr)");
	for (size_t i = 0; i < n; i++) {
		const struct ic_bench_result *one =
		    find(r, n, "density", IC_BENCH_DAEMON, r[i].c.wl, 1, 0);

		if (strcmp(r[i].c.section, "density") != 0)
			continue;
		fprintf(f, "  %-12d", r[i].c.busy + r[i].c.idle);
		num(f, 14, r[i].rss_server_kib_per_ctr);
		num(f, 14, r[i].rss_keeper_kib_per_ctr);
		num(f, 21, r[i].rss_kib_per_ctr);
		num(f, 12, r[i].p99_us);
		ratio(f, 16, one ? quotient(r[i].p99_us, one->p99_us) : -1);
		fputc('\n', f);
	}
	if (!runs)
		return;
	fprintf(f,
		"\nfairness (interceptd; the quiet container registers first, so its listener "
		"is acceptor 0's, and calls sysinfo every %d us from CPU 0;\n"
		"  the flood's processes are one container, registered after it, on the other "
		"CPUs; p99 over all windows pooled):\n",
		fairness_row(r, n, 1, false) ? fairness_row(r, n, 1, false)->c.pace_us : 0);
	fprintf(f, "  %-4s %15s %15s %15s %13s %13s %15s\n", "run", "alone p99_us",
		"flooded p99_us", "flooded/alone", "alone calls", "flooded calls", "flood calls/s");
	for (int run = 1; run <= runs; run++) {
		const struct ic_bench_result *alone = fairness_row(r, n, run, false);
		const struct ic_bench_result *flood = fairness_row(r, n, run, true);

		fprintf(f, "  %-4d", run);
		num(f, 15, alone ? alone->p99_us : -1);
		num(f, 15, flood ? flood->p99_us : -1);
		ratio(f, 15, alone && flood ? quotient(flood->p99_us, alone->p99_us) : -1);
		fprintf(f, " %13lld %13lld", alone ? alone->samples : 0,
			flood ? flood->samples : 0);
		fprintf(f, " %15.0f\n", flood ? flood->busy_calls_per_s : 0);
	}
}

/* An empty field where a figure does not apply. */
static void csv_num(FILE *f, double x)
{
	if (x < 0)
		fputs(",", f);
	else
		fprintf(f, ",%.3f", x);
}

int ic_bench_csv(const char *path, const struct ic_bench_result *r, size_t n)
{
	_cleanup_fclose_ FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	fprintf(f, "section,server,workload,busy,idle,paced,pace_us,acceptors,workers,"
		   "agent_threads,run,p50_us,p99_us,p999_us,calls_per_s,calls,p50_x_native,"
		   "p50_x_val0,p50_x_samework,p99_x_samework,tput_x_val0,tput_x_samework,"
		   "server_kib_per_container,keeper_kib_per_container,daemon_kib_per_container,"
		   "busy_calls_per_s\n");
	for (size_t i = 0; i < n; i++) {
		const struct ic_bench_case *c = &r[i].c;

		fprintf(f, "%s,%s,%s,%d,%d,%d,%d,%d,%d,%d,%d,%.3f", c->section,
			ic_bench_under_name[c->under], ic_bench_workload_name[c->wl], c->busy,
			c->idle, c->paced, c->pace_us, c->acceptors, c->workers, c->agent_threads,
			c->run, r[i].p50_us);
		csv_num(f, r[i].p99_us);
		csv_num(f, r[i].p999_us);
		fprintf(f, ",%.0f,%lld", r[i].calls_per_s, r[i].samples);
		csv_num(f, r[i].ratio_native);
		csv_num(f, r[i].ratio_val0_p50);
		csv_num(f, r[i].ratio_sw_p50);
		csv_num(f, r[i].ratio_sw_p99);
		csv_num(f, r[i].ratio_val0_tput);
		csv_num(f, r[i].ratio_sw_tput);
		csv_num(f, r[i].rss_server_kib_per_ctr);
		csv_num(f, r[i].rss_keeper_kib_per_ctr);
		csv_num(f, r[i].rss_kib_per_ctr);
		csv_num(f, c->paced && c->busy ? r[i].busy_calls_per_s : -1);
		fputc('\n', f);
	}
	return fflush(f) == 0 ? 0 : -errno;
}

/* One gnuplot data block per curve: containers, p50, p99, p99.9, calls/s. Its rows; f NULL
 * only counts them. */
static int write_block(FILE *f, const struct ic_bench_result *r, size_t n, const char *section,
		       enum ic_bench_under under)
{
	int rows = 0;

	for (size_t i = 0; i < n; i++)
		if (!strcmp(r[i].c.section, section) && r[i].c.under == under &&
		    r[i].c.acceptors == 0 && r[i].c.workers == 0) {
			const double v[] = {r[i].p50_us, r[i].p99_us, r[i].p999_us};

			rows++;
			if (!f)
				continue;
			fprintf(f, "%d", r[i].c.busy + r[i].c.idle);
			for (size_t k = 0; k < ARRAY_SIZE(v); k++) /* gnuplot skips NaN */
				fprintf(f, v[k] < 0 ? " NaN" : " %.3f", v[k]);
			fprintf(f, " %.0f\n", r[i].calls_per_s);
		}
	if (f)
		fprintf(f, "\n\n");
	return rows;
}

int ic_bench_svg(const char *path, const struct ic_bench_result *r, size_t n)
{
	static const struct {
		const char *section, *title;
		enum ic_bench_under under;
	} curves[] = {
	    {"scaling", "interceptd, all busy", IC_BENCH_DAEMON},
	    {"scaling", "val-0 agent (epoll), all busy", IC_BENCH_AGENT_EPOLL},
	    {"scaling", "same-work agent (epoll), all busy", IC_BENCH_SAMEWORK_EPOLL},
	    {"density", "interceptd, 1 busy + idle", IC_BENCH_DAEMON},
	};
	static const char *const lat[] = {"p50", "p99", "p99.9"};
	char dat[4200], gp[4200];
	_cleanup_fclose_ FILE *d = NULL, *g = NULL;
	bool have[ARRAY_SIZE(curves)];
	size_t index[ARRAY_SIZE(curves)];
	bool first = true;
	int status;
	pid_t pid;

	snprintf(dat, sizeof(dat), "%s.dat", path);
	snprintf(gp, sizeof(gp), "%s.gp", path);
	d = fopen(dat, "we");
	g = fopen(gp, "we");
	if (!d || !g)
		return -errno;
	/* gnuplot counts blocks by the blank lines between them: only curves with points. */
	for (size_t i = 0, k = 0; i < ARRAY_SIZE(curves); i++) {
		have[i] = write_block(NULL, r, n, curves[i].section, curves[i].under) > 0;
		if (have[i]) {
			write_block(d, r, n, curves[i].section, curves[i].under);
			index[i] = k++;
		}
	}
	fprintf(g,
		"set terminal svg size 1300,560 dynamic background rgb 'white' font 'sans,11'\n"
		"set output '%s'\n"
		"set multiplot layout 1,2 title 'intercept-bench: sysinfo against registered "
		"containers'\n"
		"set logscale xy\nset grid\nset key top left\nset xlabel 'containers'\n"
		"set ylabel 'latency seen by a target (µs)'\nplot ",
		path);
	for (size_t i = 0; i < ARRAY_SIZE(curves); i++)
		for (size_t p = 0; have[i] && p < ARRAY_SIZE(lat); p++) {
			fprintf(g,
				"%s'%s' index %zu using 1:%zu with linespoints lc %zu dt %zu "
				"title '%s %s'",
				first ? "" : ", ", dat, index[i], p + 2, i + 1, p + 1,
				curves[i].title, lat[p]);
			first = false;
		}
	fprintf(g, "\nunset logscale y\nset logscale x\nset yrange [0:*]\nset key top right\n"
		   "set ylabel 'calls/s, all targets'\nplot ");
	first = true;
	for (size_t i = 0; i < ARRAY_SIZE(curves); i++)
		if (have[i]) {
			fprintf(g, "%s'%s' index %zu using 1:5 with linespoints lc %zu title '%s'",
				first ? "" : ", ", dat, index[i], i + 1, curves[i].title);
			first = false;
		}
	fprintf(g, "\nunset multiplot\n");
	if (first || fflush(d) != 0 || fflush(g) != 0)
		return first ? -ENODATA : -errno;
	pid = ic_bench_fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execlp("gnuplot", "gnuplot", gp, (char *)NULL);
		fprintf(stderr, "intercept-bench: cannot run gnuplot (Debian: gnuplot-nox): %m\n");
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -EIO;
	unlink(dat);
	unlink(gp);
	return 0;
}

/* limit > 0: at most limit; limit < 0: at least -limit. Whether it was met (false when not
 * measured). */
static bool target_line(FILE *f, const char *what, double got, double limit, const char *unit)
{
	bool met = limit > 0 ? got <= limit : got >= -limit;

	if (got < 0) {
		fprintf(f, "  %-72s not measured in this run\n", what);
		return false;
	}
	fprintf(f, "  %-72s %9.3f%s (%s %.2f%s)  %s\n", what, got, unit,
		limit > 0 ? "<=" : ">=", limit > 0 ? limit : -limit, unit, met ? "met" : "NOT MET");
	return met;
}

/* The speed targets, each against the rows of this run:
 * sysinfo and throughput against the same-work agent, the node calls against the val-0
 * agent's round trip plus the native call on the same tmpfs. */
void ic_bench_targets(FILE *f, const struct ic_bench_result *r, size_t n)
{
	static const enum ic_bench_workload node_wls[] = {IC_BENCH_MKNOD, IC_BENCH_SETXATTR};
	static const struct {
		int busy;
		double at_least;
	} tput[] = {{16, 0.9}, {256, 0.9}, {1024, 0.8}, {4096, 0.8}, {10000, 0.8}};
	const struct ic_bench_result *d, *a, *x;
	int max_ctr = -1, runs = fairness_runs(r, n), met = 0, measured = 0;
	char what[120];

	fprintf(f, "\ntargets:\n");
	d = find(r, n, "single", IC_BENCH_DAEMON, IC_BENCH_SYSINFO, 1, 0);
	a = find(r, n, "single", IC_BENCH_SAMEWORK, IC_BENCH_SYSINFO, 1, 0);
	target_line(f, "sysinfo, 1 container: p50 / same-work agent p50",
		    d && a ? quotient(d->p50_us, a->p50_us) : -1, 1.15, "x");
	target_line(f, "sysinfo, 1 container: p99 / same-work agent p99",
		    d && a ? quotient(d->p99_us, a->p99_us) : -1, 2, "x");
	for (size_t w = 0; w < ARRAY_SIZE(node_wls); w++) {
		d = find(r, n, "single", IC_BENCH_DAEMON, node_wls[w], 1, 0);
		a = find(r, n, "single", IC_BENCH_AGENT, node_wls[w], 1, 0);
		x = find(r, n, "single", IC_BENCH_NATIVE, node_wls[w], 1, 0);
		snprintf(what, sizeof(what), "%s, userns: p50 / (val-0 agent + native %s) p50",
			 node_wls[w] == IC_BENCH_MKNOD ? "mknod c 1:3" : "setxattr opaque",
			 ic_bench_workload_name[node_wls[w]]);
		target_line(f, what, d && a && x ? quotient(d->p50_us, a->p50_us + x->p50_us) : -1,
			    3, "x");
	}
	for (size_t i = 0; i < ARRAY_SIZE(tput); i++) {
		d = find(r, n, "scaling", IC_BENCH_DAEMON, IC_BENCH_SYSINFO, tput[i].busy, 0);
		a = find(r, n, "scaling", IC_BENCH_SAMEWORK_EPOLL, IC_BENCH_SYSINFO, tput[i].busy,
			 0);
		snprintf(what, sizeof(what),
			 "%d busy containers: calls/s / same-work epoll agent's calls/s",
			 tput[i].busy);
		target_line(f, what, d && a ? quotient(d->calls_per_s, a->calls_per_s) : -1,
			    -tput[i].at_least, "x");
	}
	for (int run = 1; run <= runs; run++) {
		const struct ic_bench_result *alone = fairness_row(r, n, run, false);
		const struct ic_bench_result *flood = fairness_row(r, n, run, true);
		double q = alone && flood ? quotient(flood->p99_us, alone->p99_us) : -1;

		snprintf(
		    what, sizeof(what),
		    "fairness run %d: quiet container's p99 beside %d flooding processes / alone",
		    run, flood ? flood->c.busy : 0);
		measured += q >= 0;
		met += target_line(f, what, q, 2, "x");
	}
	if (!runs)
		target_line(f, "fairness: quiet container's p99 under a flood / alone", -1, 2, "x");
	else
		fprintf(f, "  %-72s %d of %d%s  %s\n", "fairness: stable (every run met)", met,
			runs, runs < 5 ? " (this preset runs fewer than 5)" : "",
			met == runs && measured == runs ? "met" : "NOT MET");
	for (size_t i = 0; i < n; i++)
		if (!strcmp(r[i].c.section, "density") && r[i].c.busy + r[i].c.idle > max_ctr)
			max_ctr = r[i].c.busy + r[i].c.idle;
	d = max_ctr > 1 ? find(r, n, "density", IC_BENCH_DAEMON, IC_BENCH_SYSINFO, 1, max_ctr - 1)
			: NULL;
	snprintf(what, sizeof(what),
		 "%d registered: daemon memory (server + keeper RSS) per container", max_ctr);
	target_line(f, what, d ? d->rss_kib_per_ctr : -1, 2, " KiB");
}
