/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "common/conf.h"
#include "common/filter.h"
#include "common/macros.h"

/* mount(2) calls that only change propagation, or bind, move or remount, are never ours to
 * serve: leave them to the kernel without a round trip. LXD's mask forgets MS_PRIVATE and
 * MS_SLAVE; the upper half is there because no valid flag lives in it. */
#define MOUNT_SKIP_MASK                                                                            \
	(0xffffffff00000000ULL | MS_REMOUNT | MS_BIND | MS_MOVE | MS_SHARED | MS_PRIVATE |         \
	 MS_SLAVE | MS_UNBINDABLE)
/* The kernel reads bpf's cmd as an int: compare the low half only, so that junk in the upper
 * half of the register cannot slip a PROG_LOAD past the notification. */
#define INT_MASK	    0xffffffffULL
#define BPF_CMD_PROG_LOAD   5
#define BPF_CMD_PROG_ATTACH 8
#define BPF_CMD_PROG_DETACH 9
#define RULE_NAMES_MAX	    3

struct filter_arg {
	unsigned index;
	enum scmp_compare op; /* SCMP_CMP_EQ or SCMP_CMP_MASKED_EQ */
	uint64_t mask;	      /* SCMP_CMP_MASKED_EQ only */
	uint64_t datum;
};

/* One row per notify rule; the libseccomp filter, the OCI fragment and the LXC profile are all
 * generated from this table so that they cannot disagree. */
struct filter_rule {
	size_t flag; /* offset of the bool in struct ic_policy that enables the row */
	const char *names[RULE_NAMES_MAX];
	bool has_arg;
	struct filter_arg arg;
	bool enosys; /* not notified: fails with ENOSYS at once */
};

#define POLICY_FLAG(f) offsetof(struct ic_policy, f)
#define MASKED(i, m, d)                                                                            \
	{                                                                                          \
		.index = (i), .op = SCMP_CMP_MASKED_EQ, .mask = (m), .datum = (d)                  \
	}
#define EQ(i, d)                                                                                   \
	{                                                                                          \
		.index = (i), .op = SCMP_CMP_EQ, .datum = (d)                                      \
	}

static const struct filter_rule rules[] = {
    /* Only device nodes: FIFOs, sockets and regular files never need us. */
    {POLICY_FLAG(mknod), {"mknod"}, true, MASKED(1, S_IFMT, S_IFCHR)},
    {POLICY_FLAG(mknod), {"mknod"}, true, MASKED(1, S_IFMT, S_IFBLK)},
    {POLICY_FLAG(mknod), {"mknodat"}, true, MASKED(2, S_IFMT, S_IFCHR)},
    {POLICY_FLAG(mknod), {"mknodat"}, true, MASKED(2, S_IFMT, S_IFBLK)},
    /* The only attribute we set is trusted.overlay.opaque = "y": one byte. */
    {POLICY_FLAG(setxattr), {"setxattr", "lsetxattr", "fsetxattr"}, true, EQ(3, 1)},
    {POLICY_FLAG(sysinfo), {"sysinfo"}, false},
    {POLICY_FLAG(mount), {"mount"}, true, MASKED(3, MOUNT_SKIP_MASK, 0)},
    /* The new mount API would bypass us: ENOSYS makes mount(8) fall back to mount(2). */
    {POLICY_FLAG(mount), {"fsopen", "fsconfig"}, false, {0}, true},
    {POLICY_FLAG(bpf), {"bpf"}, true, MASKED(0, INT_MASK, BPF_CMD_PROG_LOAD)},
    {POLICY_FLAG(bpf), {"bpf"}, true, MASKED(0, INT_MASK, BPF_CMD_PROG_ATTACH)},
    {POLICY_FLAG(bpf), {"bpf"}, true, MASKED(0, INT_MASK, BPF_CMD_PROG_DETACH)},
    {POLICY_FLAG(sched_setscheduler), {"sched_setscheduler"}, false},
};

static const uint32_t arches[] = {SCMP_ARCH_X86_64, SCMP_ARCH_X86};
static const char *const arch_names[] = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"};

static bool rule_on(const struct filter_rule *r, const struct ic_policy *p)
{
	return *(const bool *)((const char *)p + r->flag);
}

static const char *op_name(enum scmp_compare op)
{
	return op == SCMP_CMP_MASKED_EQ ? "SCMP_CMP_MASKED_EQ" : "SCMP_CMP_EQ";
}

bool ic_filter_wanted(const struct ic_policy *p)
{
	for (size_t i = 0; i < ARRAY_SIZE(rules); i++)
		if (rule_on(&rules[i], p))
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

static int add_rule(scmp_filter_ctx ctx, const struct filter_rule *r, const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);
	struct scmp_arg_cmp cmp;

	if (nr == __NR_SCMP_ERROR)
		return -ENOSYS;
	if (r->enosys)
		return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
	if (!r->has_arg)
		return seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, nr, 0);
	/* libseccomp's MASKED_EQ takes the mask first and the datum second. */
	cmp = r->arg.op == SCMP_CMP_MASKED_EQ
		  ? (struct scmp_arg_cmp){r->arg.index, r->arg.op, r->arg.mask, r->arg.datum}
		  : (struct scmp_arg_cmp){r->arg.index, r->arg.op, r->arg.datum, 0};
	return seccomp_rule_add_array(ctx, SCMP_ACT_NOTIFY, nr, 1, &cmp);
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
	for (size_t i = 0; i < ARRAY_SIZE(rules); i++) {
		if (!rule_on(&rules[i], p))
			continue;
		for (size_t n = 0; n < RULE_NAMES_MAX && rules[i].names[n]; n++) {
			r = add_rule(ctx, &rules[i], rules[i].names[n]);
			if (r < 0)
				return r;
		}
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

static struct json_object *oci_arg(const struct filter_arg *arg)
{
	_cleanup_(json_putp) struct json_object *a = json_object_new_object();

	if (!a || jadd(a, "index", json_object_new_int((int)arg->index)) < 0)
		return NULL;
	/* OCI's MASKED_EQ: "value" is the mask and "valueTwo" the datum, as in libseccomp. */
	if (arg->op == SCMP_CMP_MASKED_EQ) {
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

static struct json_object *oci_rule(const struct filter_rule *r)
{
	_cleanup_(json_putp) struct json_object *o = json_object_new_object();
	struct json_object *names = json_object_new_array(), *args = NULL;

	if (!o || jadd(o, "names", names) < 0)
		return NULL;
	for (size_t n = 0; n < RULE_NAMES_MAX && r->names[n]; n++)
		if (jadd(names, NULL, json_object_new_string(r->names[n])) < 0)
			return NULL;
	if (jadd(o, "action",
		 json_object_new_string(r->enosys ? "SCMP_ACT_ERRNO" : "SCMP_ACT_NOTIFY")) < 0)
		return NULL;
	if (r->enosys && jadd(o, "errnoRet", json_object_new_int(ENOSYS)) < 0)
		return NULL;
	if (r->has_arg) {
		args = json_object_new_array();
		if (jadd(o, "args", args) < 0 || jadd(args, NULL, oci_arg(&r->arg)) < 0)
			return NULL;
	}
	return TAKE_PTR(o);
}

int ic_filter_print_oci(const struct ic_policy *p, const char *socket, FILE *out)
{
	_cleanup_(json_putp) struct json_object *root = json_object_new_object();
	struct json_object *archs, *sys;
	char meta[IC_POLICY_NAME_MAX + 8];
	const char *text;

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
	for (size_t i = 0; i < ARRAY_SIZE(rules); i++)
		if (rule_on(&rules[i], p) && jadd(sys, NULL, oci_rule(&rules[i])) < 0)
			return -ENOMEM;
	text =
	    json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
						     JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text)
		return -ENOMEM;
	if (fprintf(out, "%s\n", text) < 0 || fflush(out) == EOF)
		return -EIO;
	return 0;
}

/* LXC's v2 argument syntax is [index,value,op,mask]: the datum first, the mask last. */
static void lxc_rule(const struct filter_rule *r, const char *name, FILE *out)
{
	if (r->enosys) {
		fprintf(out, "#   %s errno %d\n", name, ENOSYS);
		return;
	}
	fprintf(out, "#   %s notify", name);
	if (r->has_arg && r->arg.op == SCMP_CMP_MASKED_EQ)
		fprintf(out, " [%u,%" PRIu64 ",%s,%" PRIu64 "]", r->arg.index, r->arg.datum,
			op_name(r->arg.op), r->arg.mask);
	else if (r->has_arg)
		fprintf(out, " [%u,%" PRIu64 ",%s]", r->arg.index, r->arg.datum,
			op_name(r->arg.op));
	fputc('\n', out);
}

int ic_filter_print_lxc(const struct ic_policy *p, const char *socket, FILE *out)
{
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
	for (size_t i = 0; i < ARRAY_SIZE(rules); i++) {
		if (!rule_on(&rules[i], p))
			continue;
		for (size_t n = 0; n < RULE_NAMES_MAX && rules[i].names[n]; n++)
			lxc_rule(&rules[i], rules[i].names[n], out);
	}
	fprintf(out, "#   EOF\n# ---->8----\n");
	if (ferror(out) || fflush(out) == EOF)
		return -EIO;
	return 0;
}
