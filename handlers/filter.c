/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/conf.h"
#include "common/macros.h"
#include "handlers/filter.h"
#include "handlers/table.h"

#define NAMES_MAX 4

/* Consecutive rows with the same switch and the same conditions print as one rule naming all
 * of them (setxattr, lsetxattr, fsetxattr), as a person would write the profile. */
struct group {
	const struct ic_syscall *first;
	unsigned n; /* rows */
};

static bool same_rule(const struct ic_syscall *a, const struct ic_syscall *b)
{
	return a->policy_key == b->policy_key && a->enosys == b->enosys &&
	       a->n_conds == b->n_conds &&
	       memcmp(a->conds, b->conds, sizeof(a->conds[0]) * a->n_conds) == 0;
}

/* The next group at or after *i that policy p enables; false at the end. */
static bool next_group(const struct ic_policy *p, unsigned *i, struct group *g)
{
	while (*i < ic_n_syscalls && !ic_syscall_enabled(&ic_syscalls[*i], p))
		(*i)++;
	if (*i >= ic_n_syscalls)
		return false;
	g->first = &ic_syscalls[*i];
	g->n = 1;
	while (*i + g->n < ic_n_syscalls && g->n < NAMES_MAX &&
	       same_rule(g->first, &ic_syscalls[*i + g->n]))
		g->n++;
	*i += g->n;
	return true;
}

static const uint32_t arches[] = {SCMP_ARCH_X86_64, SCMP_ARCH_X86};
static const char *const arch_names[] = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"};

static const char *op_name(enum ic_cond_op op)
{
	return op == IC_COND_MASKED_EQ ? "SCMP_CMP_MASKED_EQ" : "SCMP_CMP_EQ";
}

bool ic_filter_wanted(const struct ic_policy *p)
{
	for (unsigned i = 0; i < ic_n_syscalls; i++)
		if (ic_syscall_enabled(&ic_syscalls[i], p))
			return true;
	return false;
}

void ic_filter_free(void *ctx)
{
	if (ctx)
		seccomp_release(ctx);
}

static void filter_freep(scmp_filter_ctx *ctx)
{
	ic_filter_free(*ctx);
}

static int add_rule(scmp_filter_ctx ctx, const struct ic_syscall *sys)
{
	int nr = seccomp_syscall_resolve_name(sys->name);

	if (nr == __NR_SCMP_ERROR)
		return -ENOSYS;
	if (sys->enosys)
		return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
	if (!sys->n_conds)
		return seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, nr, 0);
	for (unsigned c = 0; c < sys->n_conds; c++) {
		const struct ic_sys_cond *k = &sys->conds[c];
		/* libseccomp's MASKED_EQ takes the mask first and the datum second. */
		struct scmp_arg_cmp cmp =
		    k->op == IC_COND_MASKED_EQ
			? (struct scmp_arg_cmp){k->index, SCMP_CMP_MASKED_EQ, k->mask, k->datum}
			: (struct scmp_arg_cmp){k->index, SCMP_CMP_EQ, k->datum, 0};
		int r = seccomp_rule_add_array(ctx, SCMP_ACT_NOTIFY, nr, 1, &cmp);

		if (r < 0)
			return r;
	}
	return 0;
}

static int filter_setup(scmp_filter_ctx ctx, const struct ic_policy *p)
{
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(arches); i++) {
		r = seccomp_arch_add(ctx, arches[i]);
		if (r < 0 && r != -EEXIST)
			return r;
	}
	/* Everything we do not name is allowed, so an ABI we did not list (x32) must be allowed
	 * too rather than killed, libseccomp's default. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ALLOW);
	if (r < 0)
		return r;
	/* The caller may be root without CAP_SYS_ADMIN in its user namespace; NNP is what lets
	 * it load a filter at all, and a notify filter grants nothing an exec could abuse. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
	if (r < 0)
		return r;
	/* Otherwise libseccomp folds the kernel's errno into ECANCELED. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < ic_n_syscalls; i++) {
		if (!ic_syscall_enabled(&ic_syscalls[i], p))
			continue;
		r = add_rule(ctx, &ic_syscalls[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

void *ic_filter_build(const struct ic_policy *p)
{
	_cleanup_(filter_freep) scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r;

	if (!ctx) {
		errno = ENOMEM;
		return NULL;
	}
	r = filter_setup(ctx, p);
	if (r < 0) {
		errno = -r;
		return NULL;
	}
	return TAKE_PTR(ctx);
}

/* Sets NO_NEW_PRIVS and installs the filter with NEW_LISTENER in the calling thread. Returns the
 * listener (O_CLOEXEC), -ENOMSG when the policy notifies nothing (the filter is then loaded but
 * has no listener), or -errno. */
int ic_filter_load(void *ctx)
{
	int r;

	if (!ctx)
		return -EINVAL;
	r = seccomp_load(ctx);
	if (r < 0)
		return r;
	r = seccomp_notify_fd(ctx);
	if (r < 0)
		return -ENOMSG;
	return r;
}

static void json_putp(struct json_object **o)
{
	if (*o)
		json_object_put(*o);
}

/* Adds v to object o (key) or array o (key NULL), taking v even on failure, so that a chain of
 * adds needs one check each and nothing leaks when an allocation returned NULL. */
static int jadd(struct json_object *o, const char *key, struct json_object *v)
{
	int r;

	if (!v)
		return -ENOMEM;
	r = key ? json_object_object_add(o, key, v) : json_object_array_add(o, v);
	if (r < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static struct json_object *oci_arg(const struct ic_sys_cond *arg)
{
	_cleanup_(json_putp) struct json_object *a = json_object_new_object();

	if (!a || jadd(a, "index", json_object_new_int((int)arg->index)) < 0)
		return NULL;
	/* OCI's MASKED_EQ: "value" is the mask and "valueTwo" the datum, as in libseccomp. */
	if (arg->op == IC_COND_MASKED_EQ) {
		if (jadd(a, "value", json_object_new_uint64(arg->mask)) < 0 ||
		    jadd(a, "valueTwo", json_object_new_uint64(arg->datum)) < 0)
			return NULL;
	} else if (jadd(a, "value", json_object_new_uint64(arg->datum)) < 0) {
		return NULL;
	}
	if (jadd(a, "op", json_object_new_string(op_name(arg->op))) < 0)
		return NULL;
	return TAKE_PTR(a);
}

/* One OCI rule: the group's names, and its condition number cond (-1: none). */
static struct json_object *oci_rule(const struct group *g, int cond)
{
	_cleanup_(json_putp) struct json_object *o = json_object_new_object();
	struct json_object *names = json_object_new_array(), *args = NULL;
	const struct ic_syscall *r = g->first;

	if (!o || jadd(o, "names", names) < 0)
		return NULL;
	for (unsigned n = 0; n < g->n; n++)
		if (jadd(names, NULL, json_object_new_string(r[n].name)) < 0)
			return NULL;
	if (jadd(o, "action",
		 json_object_new_string(r->enosys ? "SCMP_ACT_ERRNO" : "SCMP_ACT_NOTIFY")) < 0)
		return NULL;
	if (r->enosys && jadd(o, "errnoRet", json_object_new_int(ENOSYS)) < 0)
		return NULL;
	if (cond >= 0) {
		args = json_object_new_array();
		if (jadd(o, "args", args) < 0 || jadd(args, NULL, oci_arg(&r->conds[cond])) < 0)
			return NULL;
	}
	return TAKE_PTR(o);
}

/* The policy's rules, one per condition, onto array sys. */
static int add_rules(const struct ic_policy *p, struct json_object *sys)
{
	struct group g;

	for (unsigned i = 0; next_group(p, &i, &g);) {
		int n = g.first->n_conds ? (int)g.first->n_conds : 1;

		for (int c = 0; c < n; c++)
			if (jadd(sys, NULL, oci_rule(&g, g.first->n_conds ? c : -1)) < 0)
				return -ENOMEM;
	}
	return 0;
}

static int print_json(struct json_object *root, FILE *out)
{
	const char *text =
	    json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
						     JSON_C_TO_STRING_NOSLASHESCAPE);

	if (!text)
		return -ENOMEM;
	if (fprintf(out, "%s\n", text) < 0 || fflush(out) == EOF)
		return -EIO;
	return 0;
}

int ic_filter_print_oci(const struct ic_policy *p, const char *socket, FILE *out)
{
	_cleanup_(json_putp) struct json_object *root = json_object_new_object();
	struct json_object *archs, *sys;
	char meta[IC_POLICY_NAME_MAX + 8];

	/* The runtime hands this to us with the listener, so the daemon serves the very policy
	 * the filter was generated from. */
	snprintf(meta, sizeof(meta), "policy=%s", p->name);
	if (!root || jadd(root, "defaultAction", json_object_new_string("SCMP_ACT_ALLOW")) < 0)
		return -ENOMEM;
	archs = json_object_new_array();
	if (jadd(root, "architectures", archs) < 0 ||
	    jadd(root, "listenerPath", json_object_new_string(socket)) < 0 ||
	    jadd(root, "listenerMetadata", json_object_new_string(meta)) < 0)
		return -ENOMEM;
	sys = json_object_new_array();
	if (jadd(root, "syscalls", sys) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(arch_names); i++)
		if (jadd(archs, NULL, json_object_new_string(arch_names[i])) < 0)
			return -ENOMEM;
	if (add_rules(p, sys) < 0)
		return -ENOMEM;
	return print_json(root, out);
}

/* LXC's v2 argument syntax is [index,value,op,mask]: the datum first, the mask last. */
static void lxc_rule(const struct ic_syscall *r, const char *name, const struct ic_sys_cond *k,
		     FILE *out)
{
	if (r->enosys) {
		fprintf(out, "#   %s errno %d\n", name, ENOSYS);
		return;
	}
	fprintf(out, "#   %s notify", name);
	if (k && k->op == IC_COND_MASKED_EQ)
		fprintf(out, " [%u,%" PRIu64 ",%s,%" PRIu64 "]", k->index, k->datum, op_name(k->op),
			k->mask);
	else if (k)
		fprintf(out, " [%u,%" PRIu64 ",%s]", k->index, k->datum, op_name(k->op));
	fputc('\n', out);
}

int ic_filter_print_lxc(const struct ic_policy *p, const char *socket, FILE *out)
{
	struct group g;

	fprintf(out,
		"# interceptd: LXC settings for policy '%s'.\n"
		"lxc.seccomp.notify.proxy = unix:%s\n"
		"lxc.seccomp.notify.cookie = policy=%s\n"
		"#\n"
		"# lxc.seccomp.profile must name a file holding the profile below. Create it with\n"
		"# the commands between the rulers (without the leading '#   '), then add\n"
		"#   lxc.seccomp.profile = /etc/interceptd/lxc-%s.seccomp\n"
		"# ----8<----\n"
		"#   mkdir -p /etc/interceptd\n"
		"#   cat > /etc/interceptd/lxc-%s.seccomp <<'EOF'\n"
		"#   2\n"
		"#   denylist\n"
		"#   [all]\n",
		p->name, socket, p->name, p->name, p->name);
	for (unsigned i = 0; next_group(p, &i, &g);) {
		unsigned n = g.first->n_conds ? g.first->n_conds : 1;

		for (unsigned c = 0; c < n; c++)
			for (unsigned k = 0; k < g.n; k++)
				lxc_rule(&g.first[k], g.first[k].name,
					 g.first->n_conds ? &g.first->conds[c] : NULL, out);
	}
	fprintf(out, "#   EOF\n# ---->8----\n");
	if (ferror(out) || fflush(out) == EOF)
		return -EIO;
	return 0;
}

/* One OCI argument condition, as the profile formats spell them. */
static struct json_object *merge_arg(unsigned index, const char *op, uint64_t value,
				     const uint64_t *value_two)
{
	_cleanup_(json_putp) struct json_object *a = json_object_new_object();

	if (!a || jadd(a, "index", json_object_new_int((int)index)) < 0 ||
	    jadd(a, "value", json_object_new_uint64(value)) < 0 ||
	    (value_two && jadd(a, "valueTwo", json_object_new_uint64(*value_two)) < 0) ||
	    jadd(a, "op", json_object_new_string(op)) < 0)
		return NULL;
	return TAKE_PTR(a);
}

static bool datum_notified(const struct ic_syscall *r, uint64_t v)
{
	for (unsigned c = 0; c < r->n_conds; c++)
		if (r->conds[c].datum == v)
			return true;
	return false;
}

/* The argument values row r does NOT notify, as single-condition rules (each an array holding
 * one condition), so that the base profile's action for r's syscall still applies to them. Our
 * conditions take three shapes (doc/design.md §11): one EQ (its complement is NE); one
 * MASKED_EQ with datum 0 (some masked bit set); MASKED_EQ of several data under one mask (the
 * other values of a narrow field, or the values below 64 of a wide one: bpf commands, of which
 * the kernel knows fewer, so a larger one meets the base's default action). */
static int complement(const struct ic_syscall *r, struct json_object *out)
{
	const struct ic_sys_cond *k = &r->conds[0];

	if (k->op == IC_COND_EQ && r->n_conds == 1)
		return jadd(out, NULL, merge_arg(k->index, "SCMP_CMP_NE", k->datum, NULL));
	for (unsigned c = 1; c < r->n_conds; c++)
		if (r->conds[c].op != IC_COND_MASKED_EQ || r->conds[c].mask != k->mask ||
		    r->conds[c].index != k->index)
			return -EINVAL;
	if (k->op != IC_COND_MASKED_EQ)
		return -EINVAL;
	if (r->n_conds == 1 && k->datum == 0) {
		for (unsigned b = 0; b < 64; b++) {
			uint64_t bit = 1ULL << b;

			if ((k->mask & bit) &&
			    jadd(out, NULL, merge_arg(k->index, "SCMP_CMP_MASKED_EQ", bit, &bit)) <
				0)
				return -ENOMEM;
		}
		return 0;
	}
	if (__builtin_popcountll(k->mask) <= 8) {
		/* Every value of the masked field: the submasks of mask. */
		uint64_t v = 0;

		do {
			if (!datum_notified(r, v) &&
			    jadd(out, NULL,
				 merge_arg(k->index, "SCMP_CMP_MASKED_EQ", k->mask, &v)) < 0)
				return -ENOMEM;
			v = (v - k->mask) & k->mask;
		} while (v);
		return 0;
	}
	for (uint64_t v = 0; v < 64; v++)
		if ((v & k->mask) == v && !datum_notified(r, v) &&
		    jadd(out, NULL, merge_arg(k->index, "SCMP_CMP_MASKED_EQ", k->mask, &v)) < 0)
			return -ENOMEM;
	return 0;
}

static const struct ic_syscall *enabled_row(const struct ic_policy *p, const char *name)
{
	for (unsigned i = 0; i < ic_n_syscalls; i++)
		if (ic_syscall_enabled(&ic_syscalls[i], p) &&
		    strcmp(ic_syscalls[i].name, name) == 0)
			return &ic_syscalls[i];
	return NULL;
}

/* Base rule e names syscalls of ours: keep it for the others, and for each of ours, e's action
 * (with its includes, excludes, errno) for the argument values we do not notify. */
static int merge_rule(const struct ic_policy *p, struct json_object *e, struct json_object *out,
		      char *err, size_t errlen)
{
	struct json_object *names, *args, *keep, *cond;
	size_t n;

	if (!json_object_object_get_ex(e, "names", &names) ||
	    !json_object_is_type(names, json_type_array)) {
		struct json_object *one;

		/* Docker's old single "name": ours there would go unmerged. */
		if (json_object_object_get_ex(e, "name", &one) &&
		    enabled_row(p, json_object_get_string(one) ?: "")) {
			snprintf(err, errlen,
				 "the profile's rule for %s uses \"name\"; write \"names\"",
				 json_object_get_string(one));
			return -EINVAL;
		}
		return jadd(out, NULL, json_object_get(e));
	}
	n = json_object_array_length(names);
	keep = json_object_new_array();
	if (!keep)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *nm = json_object_array_get_idx(names, i);
		const char *s = json_object_get_string(nm);
		const struct ic_syscall *r = s ? enabled_row(p, s) : NULL;
		_cleanup_(json_putp) struct json_object *alts = NULL;

		if (!r) {
			if (jadd(keep, NULL, json_object_get(nm)) < 0)
				return -ENOMEM;
			continue;
		}
		if (json_object_object_get_ex(e, "args", &args) &&
		    json_object_array_length(args) > 0) {
			json_object_put(keep);
			snprintf(
			    err, errlen,
			    "the profile's rule for %s has argument conditions; merge it by hand",
			    s);
			return -EINVAL;
		}
		if (r->n_conds == 0)
			continue; /* ours in every case: the base's rule has nothing left */
		alts = json_object_new_array();
		if (!alts || complement(r, alts) < 0) {
			json_object_put(keep);
			snprintf(err, errlen, "cannot express what %s does not notify", s);
			return -EINVAL;
		}
		for (size_t a = 0; a < json_object_array_length(alts); a++) {
			struct json_object *copy = NULL, *one = json_object_new_array();

			cond = json_object_array_get_idx(alts, a);
			if (json_object_deep_copy(e, &copy, NULL) < 0 || !one ||
			    jadd(one, NULL, json_object_get(cond)) < 0 ||
			    jadd(copy, "args", one) < 0) {
				json_object_put(copy);
				json_object_put(keep);
				return -ENOMEM;
			}
			one = json_object_new_array();
			if (jadd(one, NULL, json_object_new_string(s)) < 0 ||
			    jadd(copy, "names", one) < 0 || jadd(out, NULL, copy) < 0) {
				json_object_put(keep);
				return -ENOMEM;
			}
		}
	}
	if (json_object_array_length(keep) == 0) {
		json_object_put(keep);
		return 0;
	}
	{
		struct json_object *copy = NULL;

		if (json_object_deep_copy(e, &copy, NULL) < 0 || jadd(copy, "names", keep) < 0)
			return -ENOMEM;
		return jadd(out, NULL, copy);
	}
}

int ic_filter_merge_oci(const struct ic_policy *p, const char *socket, const char *base_path,
			FILE *out, char *err, size_t errlen)
{
	_cleanup_(json_putp) struct json_object *base = json_object_from_file(base_path);
	_cleanup_(json_putp) struct json_object *merged = json_object_new_array();
	struct json_object *sys;
	char meta[IC_POLICY_NAME_MAX + 8];
	int r;

	if (!base || !json_object_is_type(base, json_type_object)) {
		snprintf(err, errlen, "%s: not a JSON seccomp profile", base_path);
		return -EINVAL;
	}
	if (!merged)
		return -ENOMEM;
	/* Ours first, for a reader; libseccomp does not care about order. */
	if (add_rules(p, merged) < 0)
		return -ENOMEM;
	if (json_object_object_get_ex(base, "syscalls", &sys)) {
		if (!json_object_is_type(sys, json_type_array)) {
			snprintf(err, errlen, "%s: \"syscalls\" is not an array", base_path);
			return -EINVAL;
		}
		for (size_t i = 0; i < json_object_array_length(sys); i++) {
			r = merge_rule(p, json_object_array_get_idx(sys, i), merged, err, errlen);
			if (r < 0)
				return r;
		}
	}
	snprintf(meta, sizeof(meta), "policy=%s", p->name);
	if (jadd(base, "syscalls", TAKE_PTR(merged)) < 0 ||
	    jadd(base, "listenerPath", json_object_new_string(socket)) < 0 ||
	    jadd(base, "listenerMetadata", json_object_new_string(meta)) < 0)
		return -ENOMEM;
	return print_json(base, out);
}
