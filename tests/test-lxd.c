/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness.h"
#include "tools/lxd-policy.h"

/* tools/lxd-policy.c: `lxc config show` output into a [policy NAME] section
 * (doc/lxd-migration.md), one case per row. */

/* Inline arrays: Criterion copies a case into the test's own process, where pointers would not
 * hold. */
struct lxd_case {
	char yaml[512];
	int r;
	char want[512]; /* the whole section, or a piece of the error */
	unsigned skipped;
};

static char out[1 << 14];

static int convert(const char *yaml, unsigned *skipped, char err[IC_CONF_ERR_MAX])
{
	FILE *in = fmemopen((void *)yaml, strlen(yaml), "r"), *o = fmemopen(out, sizeof(out), "w");
	int r;

	cr_assert(in && o);
	r = ic_lxd_policy(in, o, "web", skipped, err);
	fclose(in);
	fclose(o);
	return r;
}

ParameterizedTestParameters(lxd, config_show_becomes_a_policy_section)
{
	static struct lxd_case cases[] = {
	    {"architecture: x86_64\nconfig:\n  image.os: Ubuntu\n"
	     "  security.syscalls.intercept.mknod: \"true\"\n"
	     "  security.syscalls.intercept.setxattr: 'true'\n"
	     "  security.syscalls.intercept.mount.allowed: ext4,xfs\n"
	     "  security.syscalls.intercept.mount.fuse: ext2=fuse2fs\n"
	     "devices: {}\nprofiles:\n- default\n",
	     0,
	     "[policy web]\nsecurity.syscalls.intercept.mknod = true\n"
	     "security.syscalls.intercept.setxattr = true\n"
	     "security.syscalls.intercept.mount.allowed = ext4,xfs\n"
	     "security.syscalls.intercept.mount.fuse = ext2=fuse2fs\n",
	     0},
	    /* A block value's lines and other sections' keys are not the instance's config. */
	    {"config:\n  raw.lxc: |\n    security.syscalls.intercept.bpf: \"true\"\n"
	     "  security.syscalls.intercept.sysinfo: \"true\"\n"
	     "devices:\n  security.syscalls.intercept.mount: \"true\"\n",
	     0, "[policy web]\nsecurity.syscalls.intercept.sysinfo = true\n", 0},
	    {"config:\n  security.syscalls.intercept.frobnicate: \"true\"\n", 0,
	     "[policy web]\n; security.syscalls.intercept.frobnicate = true: LXD's, not "
	     "interceptd's\n",
	     1},
	    {"config: {}\n", 0,
	     "[policy web]\n; no security.syscalls.intercept.* key: this policy intercepts "
	     "nothing\n",
	     0},
	    {"config:\n  security.syscalls.intercept.mknod: \"maybe\"\n", -EINVAL,
	     "line 2: invalid value for policy key 'security.syscalls.intercept.mknod'", 0},
	    {"config:\n  security.syscalls.intercept.mount.allowed: \"ext4\n", -EINVAL,
	     "line 2: 'security.syscalls.intercept.mount.allowed' has a value", 0},
	    {"config:\n  security.syscalls.intercept.mount.allowed: |\n    ext4\n", -EINVAL,
	     "has a value this converter does not read", 0},
	};

	return cr_make_param_array(struct lxd_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct lxd_case *c, lxd, config_show_becomes_a_policy_section)
{
	char err[IC_CONF_ERR_MAX] = "";
	unsigned skipped = 99;
	int r = convert(c->yaml, &skipped, err);

	cr_expect_eq(r, c->r, "r=%d (%s) for %s", r, err, c->yaml);
	if (r == 0) {
		cr_expect_str_eq(out, c->want, "for %s", c->yaml);
		cr_expect_eq(skipped, c->skipped);
	} else {
		cr_expect(strstr(err, c->want), "err '%s' lacks '%s'", err, c->want);
	}
}

Test(lxd, interceptctl_prints_a_section_the_daemon_loads)
{
	char conf[] = "/tmp/ic-lxd-XXXXXX";
	int fd = mkstemp(conf), r;

	cr_assert_geq(fd, 0);
	close(fd);
	r = ic_test_sh(out, sizeof(out), 10,
		       "printf 'config:\\n  security.syscalls.intercept.sysinfo: \"true\"\\n' | "
		       "%s -p from-lxd lxd-policy > %s && %s --check-config -c %s",
		       ic_test_bin("interceptctl"), conf, ic_test_bin("interceptd"), conf);
	unlink(conf);
	cr_expect_eq(r, 0, "%s", out);
	cr_expect(strstr(out, "OK (2 policies)"), "%s", out);
	r = ic_test_sh(out, sizeof(out), 10, "echo 'config: {}' | %s -p 'bad name' lxd-policy",
		       ic_test_bin("interceptctl"));
	cr_expect_eq(r, 1, "%s", out);
}
