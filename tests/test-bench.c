/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <criterion/criterion.h>
#include <dirent.h>
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

Test(bench, selftest_fills_every_row_and_writes_csv_and_svg)
{
	char path[128], line[1024], col[64];
	int r, rows = 0, daemon_rows = 0;
	FILE *f;

	r = ic_test_sh(out, sizeof(out), 200,
		       "mkdir %s/out %s/tmp && %s --preset selftest --out "
		       "%s/out --tmp %s/tmp 2>&1",
		       dir, dir, ic_test_bin("intercept-bench"), dir, dir);
	cr_assert_eq(r, 0, "intercept-bench failed (%d):\n%s", r, out);
	for (const char *s = "native agent agent-epoll( interceptd interceptd(1a/1w) "
			     "density targets:";
	     *s;) {
		char word[32];
		int n = 0;

		sscanf(s, "%31s%n", word, &n);
		cr_expect_not_null(strstr(out, word), "no '%s' in:\n%s", word, out);
		s += n;
		while (*s == ' ')
			s++;
	}

	snprintf(path, sizeof(path), "%s/out/intercept-bench.csv", dir);
	f = fopen(path, "re");
	cr_assert_not_null(f, "no %s", path);
	cr_assert_not_null(fgets(line, sizeof(line), f));
	cr_expect(strncmp(line, "section,server,workload,", 24) == 0, "header: %s", line);
	while (fgets(line, sizeof(line), f)) {
		/* p50, p99, calls/s, calls: measured, so positive; p99.9 too, unless fewer than
		 * 1000 calls were timed (then it is honestly unknown) */
		for (int c = 10; c <= 14; c++)
			cr_expect(strtod(column(line, c, col, sizeof(col)), NULL) > 0 ||
				      (c == 12 && !*col &&
				       strtod(column(line, 14, col, sizeof(col)), NULL) < 1000),
				  "column %d not positive: %s", c, line);
		/* every row has its ratio to the minimal agent */
		cr_expect(strtod(column(line, 16, col, sizeof(col)), NULL) > 0, "no ratio: %s",
			  line);
		daemon_rows += !strcmp(column(line, 1, col, sizeof(col)), "interceptd");
		/* a fresh daemon for each: its growth is the registered containers' */
		if (!strcmp(column(line, 0, col, sizeof(col)), "density"))
			cr_expect(*column(line, 19, col, sizeof(col)), "no memory figure: %s",
				  line);
		rows++;
	}
	fclose(f);
	cr_expect_geq(rows, 25, "%d rows", rows);
	cr_expect_geq(daemon_rows, 8, "%d interceptd rows", daemon_rows);

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
