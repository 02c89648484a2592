/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_COMMON_SYSCALLS_H
#define IC_COMMON_SYSCALLS_H

#include <stdbool.h>
#include <stdint.h>

/* The syscalls we may intercept. Dispatch, stats and the filter generator index by this. */
enum ic_sys {
	IC_SYS_MKNOD = 0,
	IC_SYS_MKNODAT = 1,
	IC_SYS_SETXATTR = 2,
	IC_SYS_LSETXATTR = 3,
	IC_SYS_FSETXATTR = 4,
	IC_SYS_MOUNT = 5,
	IC_SYS_BPF = 6,
	IC_SYS_SCHED_SETSCHEDULER = 7,
	IC_SYS_SYSINFO = 8,
	_IC_SYS_MAX,
	IC_SYS_UNKNOWN = -1
};

enum ic_abi {
	IC_ABI_NATIVE = 0, /* x86_64 on x86_64 hosts */
	IC_ABI_COMPAT = 1, /* i386 */
	_IC_ABI_MAX
};

/* Resolves every (arch, nr) through libseccomp once. Call before any thread uses ic_sys_lookup. */
int ic_sys_init(void);
/* Lock-free, any thread after ic_sys_init. IC_SYS_UNKNOWN for pairs we do not serve (x32 too). */
enum ic_sys ic_sys_lookup(uint32_t arch, int nr, enum ic_abi *abi);
const char *ic_sys_name(enum ic_sys sys);
uint32_t ic_abi_audit_arch(enum ic_abi abi);

#endif
