/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <linux/audit.h>
#include <seccomp.h>
#include <stdalign.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include "common/conf.h"
#include "common/macros.h"
#include "handlers/table.h"

/* The handlers, one file each, and the per-container state they keep. */
enum ic_verdict ic_handle_mknod(struct ic_req *req, struct ic_resp *resp);
enum ic_verdict ic_handle_mknodat(struct ic_req *req, struct ic_resp *resp);
extern const struct ic_sys_state ic_mknod_state;
enum ic_verdict ic_handle_setxattr(struct ic_req *req, struct ic_resp *resp);
enum ic_verdict ic_handle_lsetxattr(struct ic_req *req, struct ic_resp *resp);
enum ic_verdict ic_handle_fsetxattr(struct ic_req *req, struct ic_resp *resp);
enum ic_verdict ic_handle_mount(struct ic_req *req, struct ic_resp *resp);
enum ic_verdict ic_handle_bpf(struct ic_req *req, struct ic_resp *resp);
enum ic_verdict ic_handle_sched(struct ic_req *req, struct ic_resp *resp);
enum ic_verdict ic_handle_sysinfo(struct ic_req *req, struct ic_resp *resp);
extern const struct ic_sys_state ic_sysinfo_state;

#define KEY(field) offsetof(struct ic_policy, field)
#define MASKED(i, m, d)                                                                            \
	{                                                                                          \
		.index = (i), .op = IC_COND_MASKED_EQ, .mask = (m), .datum = (d)                   \
	}
#define EQ(i, d)                                                                                   \
	{                                                                                          \
		.index = (i), .op = IC_COND_EQ, .datum = (d)                                       \
	}
/* The kernel reads bpf's cmd as an int: compare the low half only, so that junk in the upper
 * half of the register cannot slip a PROG_LOAD past the notification. */
#define INT_MASK	    0xffffffffULL
#define BPF_CMD_PROG_LOAD   5
#define BPF_CMD_PROG_ATTACH 8
#define BPF_CMD_PROG_DETACH 9

/* clang-format off */
const struct ic_syscall ic_syscalls[] = {
	/* Only device nodes: FIFOs, sockets and regular files never need us. */
	{.name = "mknod", .handler = ic_handle_mknod, .policy_key = KEY(mknod),
	 .n_conds = 2, .conds = {MASKED(1, S_IFMT, S_IFCHR), MASKED(1, S_IFMT, S_IFBLK)},
	 .state = &ic_mknod_state, .keeps_ctx = true},
	{.name = "mknodat", .handler = ic_handle_mknodat, .policy_key = KEY(mknod),
	 .n_conds = 2, .conds = {MASKED(2, S_IFMT, S_IFCHR), MASKED(2, S_IFMT, S_IFBLK)},
	 .state = &ic_mknod_state, .keeps_ctx = true},
	/* The only attribute we set is trusted.overlay.opaque = "y": one byte. */
	{.name = "setxattr", .handler = ic_handle_setxattr, .policy_key = KEY(setxattr),
	 .n_conds = 1, .conds = {EQ(3, 1)}, .keeps_ctx = true},
	{.name = "lsetxattr", .handler = ic_handle_lsetxattr, .policy_key = KEY(setxattr),
	 .n_conds = 1, .conds = {EQ(3, 1)}, .keeps_ctx = true},
	{.name = "fsetxattr", .handler = ic_handle_fsetxattr, .policy_key = KEY(setxattr),
	 .n_conds = 1, .conds = {EQ(3, 1)}, .keeps_ctx = true},
	/* Its one side effect is writing the answer, which a second run writes again. */
	{.name = "sysinfo", .handler = ic_handle_sysinfo, .policy_key = KEY(sysinfo), .fast = true,
	 .rerun = true, .state = &ic_sysinfo_state},
	{.name = "mount", .handler = ic_handle_mount, .policy_key = KEY(mount),
	 .n_conds = 1, .conds = {MASKED(3, IC_MOUNT_SKIP_FLAGS, 0)}},
	/* The new mount API would bypass us: ENOSYS makes mount(8) fall back to mount(2). */
	{.name = "fsopen", .policy_key = KEY(mount), .enosys = true},
	{.name = "fsconfig", .policy_key = KEY(mount), .enosys = true},
	{.name = "bpf", .handler = ic_handle_bpf, .policy_key = KEY(bpf),
	 .n_conds = 3, .conds = {MASKED(0, INT_MASK, BPF_CMD_PROG_LOAD),
				 MASKED(0, INT_MASK, BPF_CMD_PROG_ATTACH),
				 MASKED(0, INT_MASK, BPF_CMD_PROG_DETACH)}},
	{.name = "sched_setscheduler", .handler = ic_handle_sched,
	 .policy_key = KEY(sched_setscheduler)},
};
/* clang-format on */
const unsigned ic_n_syscalls = ARRAY_SIZE(ic_syscalls);
_Static_assert(ARRAY_SIZE(ic_syscalls) <= IC_SYS_MAX, "raise IC_SYS_MAX");

static const uint32_t abi_arch[_IC_ABI_MAX] = {
    [IC_ABI_NATIVE] = AUDIT_ARCH_X86_64,
    [IC_ABI_COMPAT] = AUDIT_ARCH_I386,
};

static const uint32_t abi_scmp[_IC_ABI_MAX] = {
    [IC_ABI_NATIVE] = SCMP_ARCH_X86_64,
    [IC_ABI_COMPAT] = SCMP_ARCH_X86,
};

/* Largest syscall number we resolve, per ABI. Written once by ic_syscalls_init. */
#define NR_MAX 512
static int8_t row_by_nr[_IC_ABI_MAX][NR_MAX];
/* Where each row's state sits in a container's block; -1: none. */
static ptrdiff_t state_off[IC_SYS_MAX];
static size_t state_size;
static bool laid_out; /* before ic_syscalls_init, containers carry no state */

int ic_syscalls_init(void)
{
	for (int a = 0; a < _IC_ABI_MAX; a++) {
		memset(row_by_nr[a], -1, sizeof(row_by_nr[a]));
		for (unsigned s = 0; s < ic_n_syscalls; s++) {
			int nr =
			    seccomp_syscall_resolve_name_arch(abi_scmp[a], ic_syscalls[s].name);

			if (nr < 0 || nr >= NR_MAX)
				return -EINVAL;
			row_by_nr[a][nr] = (int8_t)s;
		}
	}
	/* Rows naming the same state share one copy of it. */
	state_size = 0;
	for (unsigned s = 0; s < ic_n_syscalls; s++) {
		const struct ic_sys_state *st = ic_syscalls[s].state;

		state_off[s] = -1;
		if (!st)
			continue;
		for (unsigned o = 0; o < s; o++)
			if (ic_syscalls[o].state == st)
				state_off[s] = state_off[o];
		if (state_off[s] >= 0)
			continue;
		state_off[s] = (ptrdiff_t)state_size;
		state_size += (st->size + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
	}
	laid_out = true;
	return 0;
}

const struct ic_syscall *ic_syscall_lookup(uint32_t arch, int nr, enum ic_abi *abi)
{
	for (int a = 0; a < _IC_ABI_MAX; a++) {
		if (arch != abi_arch[a])
			continue;
		if (nr < 0 || nr >= NR_MAX || row_by_nr[a][nr] < 0)
			return NULL;
		if (abi)
			*abi = a;
		return &ic_syscalls[row_by_nr[a][nr]];
	}
	return NULL;
}

const struct ic_syscall *ic_syscall_by_name(const char *name)
{
	for (unsigned s = 0; s < ic_n_syscalls; s++)
		if (strcmp(ic_syscalls[s].name, name) == 0)
			return &ic_syscalls[s];
	return NULL;
}

const char *ic_syscall_name(const struct ic_syscall *sys)
{
	return sys ? sys->name : "unknown";
}

bool ic_syscall_enabled(const struct ic_syscall *sys, const struct ic_policy *p)
{
	return *(const bool *)((const char *)p + sys->policy_key);
}

size_t ic_syscall_state_size(void)
{
	return state_size;
}

/* Once per state, at its first row. */
static bool first_of_state(unsigned s)
{
	if (!laid_out)
		return false;
	for (unsigned o = 0; o < s; o++)
		if (ic_syscalls[o].state == ic_syscalls[s].state)
			return false;
	return ic_syscalls[s].state != NULL;
}

void ic_syscall_state_init(void *block)
{
	for (unsigned s = 0; s < ic_n_syscalls; s++)
		if (first_of_state(s) && ic_syscalls[s].state->init)
			ic_syscalls[s].state->init((char *)block + state_off[s]);
}

void ic_syscall_state_fini(void *block)
{
	for (unsigned s = 0; s < ic_n_syscalls; s++)
		if (first_of_state(s) && ic_syscalls[s].state->fini)
			ic_syscalls[s].state->fini((char *)block + state_off[s]);
}

void *ic_syscall_state(const struct ic_syscall *sys, void *block)
{
	ptrdiff_t off = laid_out ? state_off[ic_syscall_id(sys)] : -1;

	return off < 0 || !block ? NULL : (char *)block + off;
}
