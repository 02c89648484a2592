/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <linux/audit.h>
#include <seccomp.h>

#include "common/macros.h"
#include "common/syscalls.h"

static const char *const sys_names[_IC_SYS_MAX] = {
    [IC_SYS_MKNOD] = "mknod",
    [IC_SYS_MKNODAT] = "mknodat",
    [IC_SYS_SETXATTR] = "setxattr",
    [IC_SYS_LSETXATTR] = "lsetxattr",
    [IC_SYS_FSETXATTR] = "fsetxattr",
    [IC_SYS_MOUNT] = "mount",
    [IC_SYS_BPF] = "bpf",
    [IC_SYS_SCHED_SETSCHEDULER] = "sched_setscheduler",
    [IC_SYS_SYSINFO] = "sysinfo",
};

static const uint32_t abi_arch[_IC_ABI_MAX] = {
    [IC_ABI_NATIVE] = AUDIT_ARCH_X86_64,
    [IC_ABI_COMPAT] = AUDIT_ARCH_I386,
};

static const uint32_t abi_scmp[_IC_ABI_MAX] = {
    [IC_ABI_NATIVE] = SCMP_ARCH_X86_64,
    [IC_ABI_COMPAT] = SCMP_ARCH_X86,
};

/* Largest syscall number we resolve to, per ABI; written once by ic_sys_init. */
#define IC_NR_MAX 512
static int8_t sys_by_nr[_IC_ABI_MAX][IC_NR_MAX];

int ic_sys_init(void)
{
	for (int a = 0; a < _IC_ABI_MAX; a++) {
		for (int i = 0; i < IC_NR_MAX; i++)
			sys_by_nr[a][i] = IC_SYS_UNKNOWN;
		for (int s = 0; s < _IC_SYS_MAX; s++) {
			int nr = seccomp_syscall_resolve_name_arch(abi_scmp[a], sys_names[s]);

			if (nr < 0 || nr >= IC_NR_MAX)
				return -EINVAL;
			sys_by_nr[a][nr] = (int8_t)s;
		}
	}
	return 0;
}

enum ic_sys ic_sys_lookup(uint32_t arch, int nr, enum ic_abi *abi)
{
	for (int a = 0; a < _IC_ABI_MAX; a++) {
		if (arch != abi_arch[a])
			continue;
		if (nr < 0 || nr >= IC_NR_MAX)
			return IC_SYS_UNKNOWN;
		if (abi)
			*abi = a;
		return (enum ic_sys)sys_by_nr[a][nr];
	}
	return IC_SYS_UNKNOWN;
}

const char *ic_sys_name(enum ic_sys sys)
{
	return sys >= 0 && sys < _IC_SYS_MAX ? sys_names[sys] : "unknown";
}

uint32_t ic_abi_audit_arch(enum ic_abi abi)
{
	return abi_arch[abi];
}
