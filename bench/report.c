/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"
#include "common/macros.h"

/* The results as people read them: a table with ratios to the native call and to the minimal
 * agent, a CSV of everything, an SVG plot of the scaling runs, and the targets. */

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

/* The minimal agent a row is held against: the epoll agent with as many busy targets when it
 * was run, else the one-target agent (the kernel's floor) for the same syscall. */
static const struct ic_bench_result *agent_for(const struct ic_bench_result *r, size_t n,
					       const struct ic_bench_result *x)
{
	const struct ic_bench_result *a = NULL;

	if (x->c.busy > 1 && x->c.idle == 0 && x->c.paced == 0)
		a = find(r, n, "scaling", IC_BENCH_AGENT_EPOLL, x->c.wl, x->c.busy, 0);
	return a ? a : find(r, n, "single", IC_BENCH_AGENT, x->c.wl, 1, 0);
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
		const struct ic_bench_result *a = agent_for(r, n, &r[i]);

		r[i].ratio_native = nat ? quotient(r[i].p50_us, nat->p50_us) : -1;
		r[i].ratio_agent_p50 = a ? quotient(r[i].p50_us, a->p50_us) : -1;
		r[i].ratio_agent_p99 = a ? quotient(r[i].p99_us, a->p99_us) : -1;
		r[i].ratio_agent_tput = a ? quotient(r[i].calls_per_s, a->calls_per_s) : -1;
	}
}

static void server_label(const struct ic_bench_case *c, char *buf, size_t len)
{
	char a[12] = "auto", w[12] = "auto";

	switch (c->under) {
	case IC_BENCH_AGENT_EPOLL:
		snprintf(buf, len, "agent-epoll(%dt)", c->agent_threads);
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
	if (c->paced)
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

static void ratio(FILE *f, double x)
{
	if (x < 0)
		fprintf(f, " %8s", "n/a");
	else
		fprintf(f, " %7.2fx", x);
}

void ic_bench_table(FILE *f, const struct ic_bench_result *r, size_t n)
{
	fprintf(f, "%-9s %-21s %-9s %-16s %9s %9s %9s %10s %9s %9s %9s %9s\n", "section", "server",
		"workload", "containers", "p50_us", "p99_us", "p99.9_us", "calls/s", "p50/nat",
		"p50/agt", "p99/agt", "tput/agt");
	for (size_t i = 0; i < n; i++) {
		char srv[40], ctr[40];

		server_label(&r[i].c, srv, sizeof(srv));
		containers_label(&r[i].c, ctr, sizeof(ctr));
		fprintf(f, "%-9s %-21s %-9s %-16s", r[i].c.section, srv,
			ic_bench_workload_name[r[i].c.wl], ctr);
		num(f, 9, r[i].p50_us);
		num(f, 9, r[i].p99_us);
		num(f, 9, r[i].p999_us);
		fprintf(f, " %10.0f", r[i].calls_per_s);
		ratio(f, r[i].ratio_native);
		ratio(f, r[i].ratio_agent_p50);
		ratio(f, r[i].ratio_agent_p99);
		ratio(f, r[i].ratio_agent_tput);
		fputc('\n', f);
	}
	fprintf(f, "\ndensity (interceptd, 1 busy + idle registered containers):\n");
	fprintf(f, "  %-12s %14s %12s %16s\n", "containers", "daemon KiB/ctr", "busy p99_us",
		"p99/p99(1 ctr)");
	for (size_t i = 0; i < n; i++) {
		const struct ic_bench_result *one =
		    find(r, n, "density", IC_BENCH_DAEMON, r[i].c.wl, 1, 0);

		if (strcmp(r[i].c.section, "density") != 0)
			continue;
		fprintf(f, "  %-12d", r[i].c.busy + r[i].c.idle);
		num(f, 14, r[i].rss_kib_per_ctr);
		num(f, 12, r[i].p99_us);
		ratio(f, one ? quotient(r[i].p99_us, one->p99_us) : -1);
		fputc('\n', f);
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
		   "agent_threads,p50_us,p99_us,p999_us,calls_per_s,calls,p50_x_native,"
		   "p50_x_agent,p99_x_agent,tput_x_agent,daemon_kib_per_container\n");
	for (size_t i = 0; i < n; i++) {
		const struct ic_bench_case *c = &r[i].c;

		fprintf(f, "%s,%s,%s,%d,%d,%d,%d,%d,%d,%d,%.3f", c->section,
			ic_bench_under_name[c->under], ic_bench_workload_name[c->wl], c->busy,
			c->idle, c->paced, c->pace_us, c->acceptors, c->workers, c->agent_threads,
			r[i].p50_us);
		csv_num(f, r[i].p99_us);
		csv_num(f, r[i].p999_us);
		fprintf(f, ",%.0f,%lld", r[i].calls_per_s, r[i].samples);
		csv_num(f, r[i].ratio_native);
		csv_num(f, r[i].ratio_agent_p50);
		csv_num(f, r[i].ratio_agent_p99);
		csv_num(f, r[i].ratio_agent_tput);
		csv_num(f, r[i].rss_kib_per_ctr);
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
	    {"scaling", "minimal agent (epoll), all busy", IC_BENCH_AGENT_EPOLL},
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

/* limit > 0: at most limit; limit < 0: at least -limit. */
static void target_line(FILE *f, const char *what, double got, double limit, const char *unit)
{
	bool met = limit > 0 ? got <= limit : got >= -limit;

	if (got < 0)
		fprintf(f, "  %-62s not measured in this run\n", what);
	else
		fprintf(f, "  %-62s %8.2f%s (%s %.2f%s)  %s\n", what, got, unit,
			limit > 0 ? "<=" : ">=", limit > 0 ? limit : -limit, unit,
			met ? "met" : "NOT MET");
}

/* The speed targets, each against the rows of this run. */
void ic_bench_targets(FILE *f, const struct ic_bench_result *r, size_t n)
{
	const struct ic_bench_result *d, *a, *x, *one, *alone, *flood;
	int max_idle = -1;

	fprintf(f, "\ntargets:\n");
	d = find(r, n, "single", IC_BENCH_DAEMON, IC_BENCH_SYSINFO, 1, 0);
	a = find(r, n, "single", IC_BENCH_AGENT, IC_BENCH_SYSINFO, 1, 0);
	target_line(f, "sysinfo, 1 container: p50 / agent p50",
		    d && a ? quotient(d->p50_us, a->p50_us) : -1, 1.5, "x");
	target_line(f, "sysinfo, 1 container: p99 / agent p99",
		    d && a ? quotient(d->p99_us, a->p99_us) : -1, 3, "x");
	d = find(r, n, "single", IC_BENCH_DAEMON, IC_BENCH_MKNOD, 1, 0);
	a = find(r, n, "single", IC_BENCH_AGENT, IC_BENCH_MKNOD, 1, 0);
	x = find(r, n, "single", IC_BENCH_NATIVE, IC_BENCH_FIFO, 1, 0);
	target_line(f, "mknod, 1 container: p50 / (agent p50 + native FIFO p50)",
		    d && a && x ? quotient(d->p50_us, a->p50_us + x->p50_us) : -1, 3, "x");
	for (int busy = 16; busy <= 256; busy *= 16) {
		char what[80];

		d = find(r, n, "scaling", IC_BENCH_DAEMON, IC_BENCH_SYSINFO, busy, 0);
		a = find(r, n, "scaling", IC_BENCH_AGENT_EPOLL, IC_BENCH_SYSINFO, busy, 0);
		snprintf(what, sizeof(what), "%d busy containers: calls/s / epoll agent's calls/s",
			 busy);
		target_line(f, what, d && a ? quotient(d->calls_per_s, a->calls_per_s) : -1, -0.8,
			    "x");
	}
	for (size_t i = 0; i < n; i++)
		if (!strcmp(r[i].c.section, "density") && r[i].c.busy + r[i].c.idle > max_idle)
			max_idle = r[i].c.busy + r[i].c.idle;
	one = find(r, n, "density", IC_BENCH_DAEMON, IC_BENCH_SYSINFO, 1, 0);
	d = max_idle > 1 ? find(r, n, "density", IC_BENCH_DAEMON, IC_BENCH_SYSINFO, 1, max_idle - 1)
			 : NULL;
	{
		char what[2][80];

		snprintf(what[0], sizeof(what[0]), "%d registered: daemon memory per container",
			 max_idle);
		snprintf(what[1], sizeof(what[1]), "%d registered: p99 / p99 with 1 registered",
			 max_idle);
		target_line(f, what[0], d ? d->rss_kib_per_ctr : -1, 8, " KiB");
		target_line(f, what[1], d && one ? quotient(d->p99_us, one->p99_us) : -1, 2, "x");
	}
	alone = NULL;
	flood = NULL;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(r[i].c.section, "fairness"))
			*(r[i].c.busy ? &flood : &alone) = &r[i];
	target_line(f, "fairness: quiet container's p99 under a flood / alone",
		    alone && flood ? quotient(flood->p99_us, alone->p99_us) : -1, 2, "x");
}
