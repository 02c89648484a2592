/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <linux/audit.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/conf.h"
#include "handlers/filter.h"
#include "handlers/table.h"

static void setup(void)
{
	cr_assert_eq(ic_syscalls_init(), 0);
}

TestSuite(table, .init = setup);

Test(table, every_row_resolves_on_both_abis)
{
	static const struct {
		uint32_t scmp, audit;
		enum ic_abi abi;
	} abis[] = {{SCMP_ARCH_X86_64, AUDIT_ARCH_X86_64, IC_ABI_NATIVE},
		    {SCMP_ARCH_X86, AUDIT_ARCH_I386, IC_ABI_COMPAT}};

	for (size_t a = 0; a < sizeof(abis) / sizeof(abis[0]); a++)
		for (unsigned s = 0; s < ic_n_syscalls; s++) {
			int nr =
			    seccomp_syscall_resolve_name_arch(abis[a].scmp, ic_syscalls[s].name);
			enum ic_abi abi = _IC_ABI_MAX;

			cr_assert_geq(nr, 0, "%s", ic_syscalls[s].name);
			cr_expect_eq(ic_syscall_lookup(abis[a].audit, nr, &abi), &ic_syscalls[s],
				     "%s on ABI %zu", ic_syscalls[s].name, a);
			cr_expect_eq(abi, abis[a].abi);
			cr_expect_eq(ic_syscall_by_name(ic_syscalls[s].name), &ic_syscalls[s]);
			cr_expect_eq(ic_syscall_id(&ic_syscalls[s]), s);
		}
}

Test(table, what_is_no_row_resolves_to_nothing)
{
	int getpid_nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, "getpid");
	int mknod_nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, "mknod");

	cr_expect_null(ic_syscall_lookup(AUDIT_ARCH_X86_64, getpid_nr, NULL));
	cr_expect_null(ic_syscall_lookup(AUDIT_ARCH_X86_64, -1, NULL));
	cr_expect_null(ic_syscall_lookup(AUDIT_ARCH_X86_64, 1 << 20, NULL));
	/* x32 shares the x86_64 audit arch, with bit 30 set in the number. */
	cr_expect_null(ic_syscall_lookup(AUDIT_ARCH_X86_64, mknod_nr | 0x40000000, NULL));
	cr_expect_null(ic_syscall_lookup(AUDIT_ARCH_AARCH64, mknod_nr, NULL));
	cr_expect_null(ic_syscall_by_name("getpid"));
	cr_expect_str_eq(ic_syscall_name(NULL), "unknown");
}

Test(table, rows_naming_one_state_share_one_copy)
{
	const struct ic_syscall *mknod = ic_syscall_by_name("mknod");
	const struct ic_syscall *mknodat = ic_syscall_by_name("mknodat");
	const struct ic_syscall *sysinfo = ic_syscall_by_name("sysinfo");
	const struct ic_syscall *bpf = ic_syscall_by_name("bpf");
	size_t size = ic_syscall_state_size();
	void *block = calloc(1, size);
	char *a, *b;

	cr_assert_not_null(block);
	ic_syscall_state_init(block);
	cr_expect_not_null(ic_syscall_state(mknod, block));
	cr_expect_eq(ic_syscall_state(mknod, block), ic_syscall_state(mknodat, block));
	cr_expect_neq(ic_syscall_state(mknod, block), ic_syscall_state(sysinfo, block));
	cr_expect_null(ic_syscall_state(bpf, block));
	/* Each state lies wholly inside the block. */
	a = ic_syscall_state(mknod, block);
	b = ic_syscall_state(sysinfo, block);
	cr_expect_leq(a + mknod->state->size, (char *)block + size);
	cr_expect_leq(b + sysinfo->state->size, (char *)block + size);
	ic_syscall_state_fini(block);
	free(block);
}

Test(table, only_sysinfo_may_run_on_an_acceptor)
{
	for (unsigned s = 0; s < ic_n_syscalls; s++)
		cr_expect_eq(ic_syscalls[s].fast, strcmp(ic_syscalls[s].name, "sysinfo") == 0, "%s",
			     ic_syscalls[s].name);
}

static const char *const switches[] = {
    "security.syscalls.intercept.mknod",   "security.syscalls.intercept.setxattr",
    "security.syscalls.intercept.sysinfo", "security.syscalls.intercept.mount",
    "security.syscalls.intercept.bpf",	   "security.syscalls.intercept.sched_setscheduler",
};

/* A policy with exactly one switch on. */
static struct ic_policy *policy_with(const char *key)
{
	char err[IC_CONF_ERR_MAX];
	struct ic_conf *conf;
	struct ic_policy *p = calloc(1, sizeof(*p));

	cr_assert_eq(ic_conf_load(NULL, false, &conf, err), 0, "%s", err);
	cr_assert_eq(ic_policy_copy(p, ic_conf_policy(conf, "default")), 0);
	ic_conf_free(conf);
	for (size_t k = 0; k < sizeof(switches) / sizeof(switches[0]); k++)
		cr_assert_eq(ic_policy_set(p, switches[k], "false", err), 0, "%s", err);
	for (unsigned s = 0; s < ic_n_syscalls; s++)
		cr_assert_not(ic_syscall_enabled(&ic_syscalls[s], p), "%s left on",
			      ic_syscalls[s].name);
	cr_assert_eq(ic_policy_set(p, key, "true", err), 0, "%s", err);
	return p;
}

/* How many OCI rules name `name`: one per condition of its row, or one. */
static int oci_rules_naming(struct json_object *rules, const char *name)
{
	int n = 0;

	for (size_t i = 0; i < json_object_array_length(rules); i++) {
		struct json_object *names =
		    json_object_object_get(json_object_array_get_idx(rules, i), "names");

		for (size_t k = 0; k < json_object_array_length(names); k++)
			n += strcmp(json_object_get_string(json_object_array_get_idx(names, k)),
				    name) == 0;
	}
	return n;
}

Test(table, oci_profile_holds_exactly_the_enabled_rows)
{
	for (size_t k = 0; k < sizeof(switches) / sizeof(switches[0]); k++) {
		struct ic_policy *p = policy_with(switches[k]);
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);
		struct json_object *root, *rules;
		int rows = 0, entries = 0;

		cr_assert_eq(ic_filter_print_oci(p, "/run/x.sock", f), 0);
		fclose(f);
		root = json_tokener_parse(text);
		cr_assert_not_null(root, "%s", text);
		rules = json_object_object_get(root, "syscalls");
		for (unsigned s = 0; s < ic_n_syscalls; s++) {
			const struct ic_syscall *sys = &ic_syscalls[s];
			int want = !ic_syscall_enabled(sys, p) ? 0
				   : sys->n_conds	       ? (int)sys->n_conds
							       : 1;

			cr_expect_eq(oci_rules_naming(rules, sys->name), want, "%s under %s",
				     sys->name, switches[k]);
			rows += ic_syscall_enabled(sys, p);
		}
		for (size_t i = 0; i < json_object_array_length(rules); i++) {
			struct json_object *r = json_object_array_get_idx(rules, i);
			const char *action =
			    json_object_get_string(json_object_object_get(r, "action"));
			const struct ic_syscall *first = ic_syscall_by_name(json_object_get_string(
			    json_object_array_get_idx(json_object_object_get(r, "names"), 0)));

			cr_assert_not_null(first);
			cr_expect_str_eq(action,
					 first->enosys ? "SCMP_ACT_ERRNO" : "SCMP_ACT_NOTIFY");
			entries +=
			    (int)json_object_array_length(json_object_object_get(r, "names"));
		}
		cr_expect_geq(entries, rows);
		cr_expect_str_eq(
		    json_object_get_string(json_object_object_get(root, "listenerPath")),
		    "/run/x.sock");
		json_object_put(root);
		free(text);
		ic_policy_done(p);
		free(p);
	}
}

Test(table, seccomp_filter_notifies_exactly_the_enabled_rows)
{
	for (size_t k = 0; k < sizeof(switches) / sizeof(switches[0]); k++) {
		struct ic_policy *p = policy_with(switches[k]);
		void *ctx = ic_filter_build(p);
		int fd = memfd_create("pfc", MFD_CLOEXEC);
		char text[65536];
		ssize_t n;

		cr_assert_not_null(ctx);
		cr_assert_geq(fd, 0);
		cr_assert_eq(seccomp_export_pfc(ctx, fd), 0);
		n = pread(fd, text, sizeof(text) - 1, 0);
		cr_assert_gt(n, 0);
		text[n] = 0;
		/* The x86_64 part (before the i386 one): each row's number is tested there iff its
		 * switch is on. */
		cr_assert_not_null(strstr(text, "# filter for arch x86 ("), "%s", text);
		*strstr(text, "# filter for arch x86 (") = 0;
		for (unsigned s = 0; s < ic_n_syscalls; s++) {
			char want[64];
			int nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64,
								   ic_syscalls[s].name);

			snprintf(want, sizeof(want), "if ($syscall == %d)", nr);
			cr_expect_eq(strstr(text, want) != NULL,
				     ic_syscall_enabled(&ic_syscalls[s], p), "%s under %s:\n%s",
				     ic_syscalls[s].name, switches[k], text);
		}
		/* SCMP_ACT_NOTIFY, as libseccomp prints it. */
		cr_expect(strstr(text, "action 0x7fc00000;") || strstr(text, "action ERRNO(38);"),
			  "%s", text);
		close(fd);
		ic_filter_free(ctx);
		ic_policy_done(p);
		free(p);
	}
}
