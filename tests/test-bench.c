/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/harness.h"

/* intercept-bench's self-test preset: a few hundred calls per case, every case run for real
 * (native, ALLOW filter, minimal agents, its own interceptd), so the harness cannot rot. It
 * measures; it does not judge speed. */

static char dir[64], out[1 << 17];

static void setup(void)
{
	/* Every one: Criterion runs two at a time, and the others start daemons and targets
	 * too, which the selftest's 40 ms windows would measure. */
	ic_test_exclusive();
	snprintf(dir, sizeof(dir), "/tmp/ic-test-bench.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(chmod(dir, 0755), 0); /* the user-namespace targets go through it */
}

static void teardown(void)
{
	ic_test_sh(NULL, 0, 30, "rm -rf %s", dir);
}

TestSuite(bench, .init = setup, .fini = teardown, .timeout = 240);

static int count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d, "%s", path);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Column i (0-based) of a CSV line, copied into buf. */
static const char *column(const char *line, int i, char *buf, size_t len)
{
	const char *p = line, *end;

	while (i-- > 0) {
		p = strchr(p, ',');
		cr_assert_not_null(p, "too few columns: %s", line);
		p++;
	}
	end = strpbrk(p, ",\n");
	snprintf(buf, len, "%.*s", (int)(end ? end - p : (long)strlen(p)), p);
	return buf;
}

/* The CSV's columns, as intercept-bench's header names them. */
enum {
	C_SECTION = 0,
	C_SERVER = 1,
	C_WORKLOAD = 2,
	C_BUSY = 3,
	C_IDLE = 4,
	C_RUN = 10,
	C_P50 = 11,
	C_P999 = 13,
	C_CALLS = 15,
	C_P50_VAL0 = 17,
	C_P50_SW = 18,
	C_P99_SW = 19,
	C_TPUT_SW = 21,
	C_SERVER_KIB = 22,
	C_KEEPER_KIB = 23,
	C_DAEMON_KIB = 24,
	C_BUSY_RATE = 25,
};

static double num_at(const char *line, int i)
{
	char col[64];

	return strtod(column(line, i, col, sizeof(col)), NULL);
}

static bool is(const char *line, int i, const char *want)
{
	char col[64];

	return !strcmp(column(line, i, col, sizeof(col)), want);
}

/* The p50 of the row section/server/sysinfo with busy targets, -1 if there is none. */
static double sysinfo_p50(char rows[][1024], int n, const char *section, const char *server,
			  int busy)
{
	for (int i = 0; i < n; i++)
		if (is(rows[i], C_SECTION, section) && is(rows[i], C_SERVER, server) &&
		    is(rows[i], C_WORKLOAD, "sysinfo") && num_at(rows[i], C_BUSY) == busy &&
		    num_at(rows[i], C_IDLE) == 0)
			return num_at(rows[i], C_P50);
	return -1;
}

static bool near(double x, double y)
{
	return x - y < 0.01 && y - x < 0.01;
}

/* The interceptd sysinfo row of section with busy targets holds its p50 against the row of
 * agent: in section with as many busy targets, or in the single section (one busy). */
static void expect_sw_ratio(char rows[][1024], int n, const char *section, int busy,
			    const char *agent)
{
	double a = sysinfo_p50(rows, n, "single", agent, 1);
	double d = sysinfo_p50(rows, n, section, "interceptd", busy);
	int checked = 0;

	if (busy > 1)
		a = sysinfo_p50(rows, n, section, agent, busy);
	cr_assert_gt(a, 0, "no %s row with %d busy", agent, busy);
	cr_assert_gt(d, 0, "no interceptd %s row with %d busy", section, busy);
	for (int i = 0; i < n; i++)
		if (is(rows[i], C_SECTION, section) && is(rows[i], C_SERVER, "interceptd") &&
		    is(rows[i], C_WORKLOAD, "sysinfo") && num_at(rows[i], C_BUSY) == busy &&
		    num_at(rows[i], C_IDLE) == 0) {
			cr_expect(near(num_at(rows[i], C_P50_SW), d / a),
				  "p50_x_samework is not p50 / %s p50 (%.3f): %s", agent, d / a,
				  rows[i]);
			checked++;
		}
	cr_expect_eq(checked, 1);
}

/* The targets line that starts with what: it is there, its limit is the (limit, e.g.
 * "<= 1.15x") and its verdict is what its figure and limit say ("1.19x (<= 1.15x)  NOT MET"),
 * or, with limit NULL, it says it was not measured. */
static void expect_target(const char *what, const char *limit_text)
{
	const char *line = strstr(out, what);
	char op[3] = "";
	double got, limit;
	const char *verdict;
	bool met;

	cr_assert_not_null(line, "no target line '%s' in:\n%s", what, out);
	line += strlen(what);
	if (!limit_text) {
		cr_expect(strncmp(line + strspn(line, " "), "not measured", 12) == 0,
			  "'%s' measured in the self-test: %.80s", what, line);
		return;
	}
	cr_assert_eq(sscanf(line, " %lf%*[ xKiB] (%2[<=>] %lf", &got, op, &limit), 3,
		     "'%s' has no figure and limit: %.80s", what, line);
	cr_expect(strncmp(strchr(line, '(') + 1, limit_text, strlen(limit_text)) == 0,
		  "'%s' is not held to %s: %.80s", what, limit_text, line);
	verdict = strpbrk(line, ")");
	cr_assert_not_null(verdict);
	verdict += 1 + strspn(verdict + 1, " ");
	met = op[0] == '<' ? got <= limit : got >= limit;
	cr_expect(strncmp(verdict, met ? "met" : "NOT MET", met ? 3 : 7) == 0,
		  "'%s': %.2f %s %.2f, but says: %.20s", what, got, op, limit, verdict);
}

Test(bench, selftest_fills_every_row_and_writes_csv_and_svg)
{
	static char rows[128][1024];
	char path[128], line[1024];
	int r, n = 0, daemon_rows = 0, fairness_rows = 0;
	FILE *f;

	r = ic_test_sh(out, sizeof(out), 200,
		       "mkdir %s/out %s/tmp && %s --preset selftest --out "
		       "%s/out --tmp %s/tmp 2>&1",
		       dir, dir, ic_test_bin("intercept-bench"), dir, dir);
	cr_assert_eq(r, 0, "intercept-bench failed (%d):\n%s", r, out);
	for (const char *s = "native agent-val0 agent-samework agent-val0-epoll(2t) "
			     "agent-samework-epoll(2t) interceptd interceptd(1a/1w) p50/val0 "
			     "p50/sw p99/sw tput/val0 tput/sw density server+keeper "
			     "fairness targets:";
	     *s;) {
		char word[32];
		int k = 0;

		sscanf(s, "%31s%n", word, &k);
		cr_expect_not_null(strstr(out, word), "no '%s' in:\n%s", word, out);
		s += k;
		while (*s == ' ')
			s++;
	}
	/* Every target of the table, judged as its own figures say. */
	expect_target("sysinfo, 1 container: p50 / same-work agent p50", "<= 1.15x");
	expect_target("sysinfo, 1 container: p99 / same-work agent p99", "<= 2.00x");
	expect_target("mknod c 1:3, userns: p50 / (val-0 agent + native mknod) p50", "<= 3.00x");
	expect_target("setxattr opaque, userns: p50 / (val-0 agent + native setxattr) p50",
		      "<= 3.00x");
	expect_target("16 busy containers: calls/s / same-work epoll agent's calls/s", ">= 0.90x");
	expect_target("256 busy containers: calls/s / same-work epoll agent's calls/s", NULL);
	expect_target("1024 busy containers: calls/s / same-work epoll agent's calls/s", NULL);
	expect_target("4096 busy containers: calls/s / same-work epoll agent's calls/s", NULL);
	expect_target("10000 busy containers: calls/s / same-work epoll agent's calls/s", NULL);
	expect_target("fairness run 1: quiet container's p99 beside 2 flooding processes / alone",
		      "<= 2.00x");
	expect_target("fairness run 2: quiet container's p99 beside 2 flooding processes / alone",
		      "<= 2.00x");
	cr_expect_not_null(strstr(out, "fairness: stable (every run met)"), "%s", out);
	expect_target("16 registered: daemon memory (server + keeper RSS) per container",
		      "<= 2.00 KiB");

	snprintf(path, sizeof(path), "%s/out/intercept-bench.csv", dir);
	f = fopen(path, "re");
	cr_assert_not_null(f, "no %s", path);
	cr_assert_not_null(fgets(line, sizeof(line), f));
	cr_expect(strncmp(line, "section,server,workload,", 24) == 0, "header: %s", line);
	cr_expect(is(line, C_P50_SW, "p50_x_samework") && is(line, C_TPUT_SW, "tput_x_samework") &&
		      is(line, C_DAEMON_KIB, "daemon_kib_per_container"),
		  "header: %s", line);
	while (n < (int)(sizeof(rows) / sizeof(rows[0])) && fgets(rows[n], sizeof(rows[0]), f)) {
		const char *row = rows[n++];
		char col[64];

		/* p50, p99, calls/s, calls: measured, so positive; p99.9 too, unless fewer than
		 * 1000 calls were timed (then it is honestly unknown) */
		for (int c = C_P50; c <= C_CALLS; c++)
			cr_expect(num_at(row, c) > 0 ||
				      (c == C_P999 && !*column(row, c, col, sizeof(col)) &&
				       num_at(row, C_CALLS) < 1000),
				  "column %d not positive: %s", c, row);
		/* every row has its ratio to the val-0 agent */
		cr_expect(num_at(row, C_P50_VAL0) > 0, "no ratio: %s", row);
		/* and every sysinfo row its ratios to the same-work agent */
		if (is(row, C_WORKLOAD, "sysinfo"))
			cr_expect(num_at(row, C_P50_SW) > 0 && num_at(row, C_P99_SW) > 0 &&
				      num_at(row, C_TPUT_SW) > 0,
				  "no same-work ratio: %s", row);
		daemon_rows += is(row, C_SERVER, "interceptd");
		/* a fresh daemon for each: its growth is the registered containers', the
		 * server's and the keeper's, and the figure is their sum */
		if (is(row, C_SECTION, "density")) {
			cr_expect(*column(row, C_SERVER_KIB, col, sizeof(col)) &&
				      *column(row, C_KEEPER_KIB, col, sizeof(col)),
				  "no memory figure: %s", row);
			cr_expect(near(num_at(row, C_DAEMON_KIB),
				       num_at(row, C_SERVER_KIB) + num_at(row, C_KEEPER_KIB)),
				  "daemon memory is not server + keeper: %s", row);
		}
		if (is(row, C_SECTION, "fairness")) {
			fairness_rows++;
			cr_expect(num_at(row, C_RUN) == (fairness_rows + 1) / 2, "run: %s", row);
			if (num_at(row, C_BUSY) > 0)
				cr_expect(num_at(row, C_BUSY_RATE) > 0, "no flood rate: %s", row);
		}
	}
	fclose(f);
	cr_expect_geq(n, 30, "%d rows", n);
	cr_expect_geq(daemon_rows, 10, "%d interceptd rows", daemon_rows);
	cr_expect_eq(fairness_rows, 4, "two runs, alone and flooded");
	/* The same-work agents ran, a round trip costs more than the native call, and the
	 * ratios are the rows' own: the one-thread agent for one container, the epoll one with
	 * as many busy containers for more. */
	cr_expect_gt(sysinfo_p50(rows, n, "single", "agent-samework", 1),
		     sysinfo_p50(rows, n, "single", "native", 1));
	expect_sw_ratio(rows, n, "single", 1, "agent-samework");
	expect_sw_ratio(rows, n, "scaling", 1, "agent-samework");
	expect_sw_ratio(rows, n, "scaling", 16, "agent-samework-epoll");

	snprintf(path, sizeof(path), "%s/out/intercept-bench.svg", dir);
	f = fopen(path, "re");
	cr_assert_not_null(f, "no %s", path);
	cr_assert_eq(fread(out, 1, 512, f) > 0, true);
	fclose(f);
	cr_expect_not_null(strstr(out, "<svg"), "not an SVG");
	/* Nothing left behind: its tmpfs, sockets and daemon are gone with it. */
	snprintf(path, sizeof(path), "%s/tmp", dir);
	cr_expect_eq(count_entries(path), 0, "intercept-bench left files in %s", path);
	snprintf(path, sizeof(path), "%s/out", dir);
	cr_expect_eq(count_entries(path), 2, "only the CSV and the SVG in %s", path);
}

/* gnuplot finds a curve by counting blocks: the curves of sections that did not run are not
 * blocks before it. */
Test(bench, only_the_density_section_still_plots)
{
	char path[128];
	int r;

	r = ic_test_sh(out, sizeof(out), 120,
		       "mkdir %s/out %s/tmp && %s --preset selftest --only density --out %s/out "
		       "--tmp %s/tmp 2>&1",
		       dir, dir, ic_test_bin("intercept-bench"), dir, dir);
	cr_assert_eq(r, 0, "intercept-bench failed (%d):\n%s", r, out);
	snprintf(path, sizeof(path), "%s/out/intercept-bench.svg", dir);
	cr_expect_eq(access(path, R_OK), 0, "no %s:\n%s", path, out);
}

/* Runs intercept-bench's density section in the background ($p, its daemon's files under
 * $d/tmp), runs interrupt (which sends it SIGINT), then expects it ended by the signal with no
 * process and no file left behind. Whatever outlived it (20 s: an ASan daemon's exit is slow)
 * is listed, then killed by its pid. */
static void expect_interrupted_clean(const char *interrupt)
{
	int r;

	r = ic_test_sh(out, sizeof(out), 120,
		       "d=%s; mkdir $d/out $d/tmp && { %s --preset selftest --only density "
		       "--out $d/out --tmp $d/tmp >$d/log 2>&1 & p=$!; }; %s; wait $p; "
		       "echo exit $?; "
		       "for i in $(seq 400); do pgrep -f \"interceptd -c $d/tmp/\" >/dev/null || "
		       "break; sleep 0.05; done; "
		       "for q in $(pgrep -f \"interceptd -c $d/tmp/\"); do ps -o args= -p $q; "
		       "kill -KILL $q; done; find $d/tmp -mindepth 1",
		       dir, ic_test_bin("intercept-bench"), interrupt);
	cr_expect_eq(r, 0, "%s", out);
	cr_expect(!strstr(out, "no daemon"), "it started no daemon:\n%s", out);
	cr_expect_not_null(strstr(out, "exit 130"), "not ended by SIGINT:\n%s", out);
	cr_expect(!strstr(out, "interceptd -c"), "a daemon outlived the run:\n%s", out);
	cr_expect(!strstr(out, "/tmp/"), "files left behind:\n%s", out);
}

/* Interrupted while its daemon runs, it leaves no process (the keeper's server included: it
 * outlives a killed keeper) and no file (the keeper's lock beside the control socket). */
Test(bench, an_interrupted_run_leaves_no_daemon_and_no_file)
{
	expect_interrupted_clean(
	    "for i in $(seq 400); do ls $d/tmp/*/daemon*/control.sock >/dev/null 2>&1 "
	    "&& break; sleep 0.05; done; "
	    "ls $d/tmp/*/daemon*/control.sock >/dev/null || echo no daemon; kill -INT $p");
}

/* The same while its daemon starts: the server is frozen as soon as the keeper has started it
 * (so it cannot yet say who it is), the run interrupted, the server thawed. */
Test(bench, an_interrupted_start_leaves_no_server)
{
	expect_interrupted_clean(
	    "for i in $(seq 2000); do k=$(pgrep -n -P $p -f \"interceptd -c $d/tmp/\"); "
	    "[ -n \"$k\" ] && s=$(pgrep -n -P $k) && break; sleep 0.01; done; "
	    "[ -n \"$s\" ] || echo no daemon; "
	    "kill -STOP $s; kill -INT $p; sleep 0.2; kill -CONT $s 2>/dev/null");
}

Test(bench, bad_options_are_refused_naming_them)
{
	int r;

	r = ic_test_sh(out, sizeof(out), 30, "%s --preset nope 2>&1",
		       ic_test_bin("intercept-bench"));
	cr_expect_eq(r, 2);
	cr_expect_not_null(strstr(out, "unknown preset 'nope'"), "%s", out);
	r = ic_test_sh(out, sizeof(out), 30, "%s extra 2>&1", ic_test_bin("intercept-bench"));
	cr_expect_eq(r, 2);
	cr_expect_not_null(strstr(out, "unexpected argument 'extra'"), "%s", out);
}

Test(bench, a_socket_nobody_listens_on_fails_naming_it)
{
	int r;

	r = ic_test_sh(out, sizeof(out), 120,
		       "mkdir %s/tmp && %s --preset selftest --out %s --tmp %s/tmp "
		       "--socket %s/none.sock 2>&1",
		       dir, ic_test_bin("intercept-bench"), dir, dir, dir);
	cr_expect_eq(r, 2, "%s", out);
	cr_expect_not_null(strstr(out, "none.sock: No such file or directory"), "%s", out);
	cr_expect_eq(count_entries(dir), 1, "only tmp/ in %s", dir);
	snprintf(out, sizeof(out), "%s/tmp", dir);
	cr_expect_eq(count_entries(out), 0, "intercept-bench left files in %s", out);
}
