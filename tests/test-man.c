/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness.h"

/* The man pages the build makes from the scdoc sources in man/, and what they promise of the
 * programs. */

static char out[1 << 17], keys[1 << 14];

static const char *page(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/man/%s", IC_TOP_BUILDDIR, name);
	if (access(path, R_OK) != 0)
		cr_skip_test("%s was not built: configure found no scdoc", path);
	return path;
}

TestSuite(man, .timeout = 60);

Test(man, interceptd_conf_shows_every_key_of_print_keys)
{
	const char *path = page("interceptd.conf.5");
	int n = 0;

	cr_assert_eq(ic_test_sh(keys, sizeof(keys), 10,
				"%s --print-keys | awk '/^[a-z]/ {print $1}'",
				ic_test_bin("interceptd")),
		     0, "%s", keys);
	/* Wide enough that no line of the page wraps or hyphenates a key. */
	cr_assert_eq(ic_test_sh(out, sizeof(out), 30, "MANWIDTH=250 man -l %s", path), 0, "%s",
		     out);
	for (char *save = NULL, *k = strtok_r(keys, "\n", &save); k;
	     k = strtok_r(NULL, "\n", &save), n++) {
		char want[160];

		snprintf(want, sizeof(want), "       %s = ", k);
		cr_expect(strstr(out, want), "man interceptd.conf lacks %s", k);
	}
	cr_expect_gt(n, 20);
}

Test(man, every_program_has_a_page_that_renders_without_warnings_and_a_version)
{
	static const char *const progs[][2] = {{"interceptd", "interceptd.8"},
					       {"interceptctl", "interceptctl.8"},
					       {"intercept-run", "intercept-run.1"},
					       {"intercept-bench", "intercept-bench.1"},
					       {NULL, "interceptd.conf.5"}};

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		const char *path = page(progs[i][1]);

		cr_expect_eq(ic_test_sh(out, sizeof(out), 30,
					"MANWIDTH=100 man --warnings -l %s 2>&1 >/dev/null", path),
			     0);
		cr_expect_str_empty(out, "%s: %s", progs[i][1], out);
		if (!progs[i][0])
			continue;
		cr_expect_eq(
		    ic_test_sh(out, sizeof(out), 10, "%s --version", ic_test_bin(progs[i][0])), 0,
		    "%s", out);
		cr_expect(strncmp(out, progs[i][0], strlen(progs[i][0])) == 0 &&
			      strstr(out, " " PACKAGE_VERSION "\n"),
			  "%s --version: %s", progs[i][0], out);
		cr_assert_eq(ic_test_sh(out, sizeof(out), 30, "MANWIDTH=100 man -l %s", path), 0);
		cr_expect(strstr(out, "EXIT STATUS"), "%s documents no exit status", progs[i][1]);
	}
}
