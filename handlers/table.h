/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_HANDLERS_TABLE_H
#define IC_HANDLERS_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mount.h>

struct ic_policy;
struct ic_req;
struct ic_resp;

/* The syscall table (doc/design.md §7.2): one row per syscall we may notify or refuse. Dispatch,
 * the policy switches, the acceptor's fast path, the seccomp filter, the OCI and LXC profiles,
 * per-container handler state and the stats are all read from it. Adding a syscall is one row
 * in table.c and one handler file. */

/* Rows at most; a row's index in the table is its id (stats, lookup). */
#define IC_SYS_MAX 16

enum ic_abi {
	IC_ABI_NATIVE = 0, /* x86_64 on x86_64 hosts */
	IC_ABI_COMPAT = 1, /* i386 */
	_IC_ABI_MAX
};

/* What a handler decides; the core turns it into exactly one answer. */
enum ic_verdict {
	IC_VERDICT_RESPOND = 0,	 /* answer resp->val / resp->error */
	IC_VERDICT_CONTINUE = 1, /* let the kernel run the syscall (USER_NOTIF_FLAG_CONTINUE) */
	IC_VERDICT_FAILED = 2,	 /* internal error: answered with the policy's failure answer */
	IC_VERDICT_GONE = 3,	 /* the notification is no longer valid: nothing to answer */
	_IC_VERDICT_MAX
};

typedef enum ic_verdict (*ic_handler_fn)(struct ic_req *req, struct ic_resp *resp);

/* mount(2) calls that only change propagation, or bind, move or remount, never make a new
 * mount: not ours to serve. LXD's mask forgot MS_PRIVATE and MS_SLAVE; the upper half is there
 * because no valid flag lives in it. */
#define IC_MOUNT_SKIP_FLAGS                                                                        \
	(0xffffffff00000000ULL | MS_REMOUNT | MS_BIND | MS_MOVE | MS_SHARED | MS_PRIVATE |         \
	 MS_SLAVE | MS_UNBINDABLE)

/* One argument condition of the filter: arg[index] == datum, or (arg[index] & mask) == datum. */
enum ic_cond_op { IC_COND_EQ = 0, IC_COND_MASKED_EQ = 1, _IC_COND_MAX };

struct ic_sys_cond {
	unsigned index;
	enum ic_cond_op op;
	uint64_t mask; /* IC_COND_MASKED_EQ only */
	uint64_t datum;
};

#define IC_SYS_CONDS_MAX 3

/* State a handler keeps per container (caches), shared by the rows that name the same one.
 * init runs when a container registers, fini when it is freed; both get zeroed memory of
 * `size` bytes (fini may be NULL). */
struct ic_sys_state {
	size_t size;
	void (*init)(void *state);
	void (*fini)(void *state);
};

struct ic_syscall {
	const char *name;      /* libseccomp's name, on every ABI */
	ic_handler_fn handler; /* NULL with enosys */
	size_t policy_key;     /* offset of the policy's bool that enables the row */
	bool fast;	       /* neither blocks nor forks: may run on an acceptor */
	bool rerun;	       /* running it twice is harmless (a crash may make it) */
	bool enosys;	       /* not notified: the filter fails it with ENOSYS */
	bool keeps_ctx;	       /* its handler may find a caller's context parked (ic_fsctx) */
	unsigned n_conds;      /* notified when any condition holds; 0: always */
	struct ic_sys_cond conds[IC_SYS_CONDS_MAX];
	const struct ic_sys_state *state; /* NULL: none */
};

/* The table, in the order the filter and the profiles list it. */
extern const struct ic_syscall ic_syscalls[];
extern const unsigned ic_n_syscalls;

/* Resolves every row's number on every ABI through libseccomp and lays out the per-container
 * state. Once, before any thread uses the lookups below. */
int ic_syscalls_init(void);
/* Lock-free, any thread after ic_syscalls_init: the row of (arch, nr), NULL for syscalls the
 * table does not hold and for ABIs we do not serve (x32). */
const struct ic_syscall *ic_syscall_lookup(uint32_t arch, int nr, enum ic_abi *abi);
const struct ic_syscall *ic_syscall_by_name(const char *name);
static inline unsigned ic_syscall_id(const struct ic_syscall *sys)
{
	return (unsigned)(sys - ic_syscalls);
}
/* The row's name, "unknown" for NULL. */
const char *ic_syscall_name(const struct ic_syscall *sys);
/* Whether policy p enables row sys. */
bool ic_syscall_enabled(const struct ic_syscall *sys, const struct ic_policy *p);

/* Per-container handler state, one block per container (after ic_syscalls_init). */
size_t ic_syscall_state_size(void);
void ic_syscall_state_init(void *block);
void ic_syscall_state_fini(void *block);
/* The state of row sys inside block, NULL when the row keeps none. */
void *ic_syscall_state(const struct ic_syscall *sys, void *block);

#endif
