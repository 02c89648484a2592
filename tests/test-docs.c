/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>

#include "tests/harness.h"

/* What the repository shows users is what the programs print: the example configuration and the
 * README's samples are compared with the output of the commands that make them. */

static char out[1 << 16];
static char cmd[4096];

TestSuite(docs, .timeout = 60);

/* cmd, built by the caller, must exit 0; why says how to fix it when it does not. */
static void expect_ok(const char *why)
{
	int r = ic_test_sh(out, sizeof(out), 30, "%s", cmd);

	cr_expect_eq(r, 0, "%s:\n%s", why, out);
}

Test(docs, shipped_example_config_is_what_print_example_generates)
{
	snprintf(cmd, sizeof(cmd),
		 "%s --print-example | diff -u %s/tools/interceptd.conf.example -",
		 ic_test_bin("interceptd"), IC_TOP_SRCDIR);
	expect_ok("regenerate it with interceptd --print-example");
}

Test(docs, example_config_sets_every_key_of_print_keys)
{
	snprintf(
	    cmd, sizeof(cmd),
	    "%s --print-keys | sed -n 's/^\\([a-z][^ ]*\\) *=.*/\\1/p' | { m=0; while read -r k; "
	    "do grep -q \"^$k = \" %s/tools/interceptd.conf.example || { echo \"missing $k\"; "
	    "m=1; }; done; exit $m; }",
	    ic_test_bin("interceptd"), IC_TOP_SRCDIR);
	expect_ok("keys missing from the example");
}

Test(docs, example_config_passes_check_config)
{
	snprintf(cmd, sizeof(cmd), "%s --check-config -c %s/tools/interceptd.conf.example",
		 ic_test_bin("interceptd"), IC_TOP_SRCDIR);
	expect_ok("the example does not load");
}

Test(docs, readme_print_oci_sample_is_what_intercept_run_prints)
{
	snprintf(
	    cmd, sizeof(cmd),
	    "cd %s && f=$(mktemp) && sed -n '/^```json$/,/^```$/p' README.md | sed '1d;$d' >$f "
	    "&& %s --print oci -c tools/interceptd.conf.example -p sysinfo-only | diff -u $f -; "
	    "r=$?; rm -f $f; exit $r",
	    IC_TOP_SRCDIR, ic_test_bin("intercept-run"));
	expect_ok("README.md's --print oci sample differs");
}
