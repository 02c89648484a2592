/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_HANDLERS_DECODE_H
#define IC_HANDLERS_DECODE_H

#include <limits.h>
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What the handlers read of their callers' arguments, decoded and checked: target memory is
 * read through ic_mem_read and ic_read_string only, and nothing else is touched, so that the
 * fuzz targets (fuzz/bpf.c, mount.c, sched.c) reach every decoder over a fake target memory.
 * Any thread. Errors are -errno: -EFAULT, -EINVAL, -ENAMETOOLONG, -E2BIG, -EPERM are the
 * caller's to be told; others (-ESRCH) mean the target went away. */

union bpf_attr;
struct bpf_insn;
struct sched_param;

/* --- bpf(2) --------------------------------------------------------------------------------- */

/* Bounds on what a container may make us copy: the kernel's own for unprivileged programs. */
#define IC_BPF_INSNS_MAX   4096
#define IC_BPF_LOG_MAX	   (1U << 20)
#define IC_BPF_LICENSE_MAX 128
#define IC_BPF_ATTR_MAX	   65536

/* The caller's attr of size bytes at addr: at most what we know of it, the rest must be zero
 * (the kernel's rule for a bigger attr; fields newer than ours are refused this way). */
int ic_bpf_attr_read(pid_t tid, uint64_t addr, uint64_t size, union bpf_attr *attr);

/* A BPF_PROG_LOAD the handler would carry out: its instructions, license and log buffer are
 * ours, and attr points at them. */
struct ic_bpf_prog {
	struct bpf_insn *insns;
	char *log;	   /* log_size bytes, NULL when the caller asked for none */
	uint64_t user_log; /* the caller's log buffer */
	uint32_t log_size;
	char license[IC_BPF_LICENSE_MAX];
};

/* Check a BPF_PROG_LOAD's attr (no fd or kernel-object field, bounded sizes), then read its
 * instructions and license into p and point attr at our copies. -ENOMEM is ours to fail; the
 * rest the caller's. p is to be released with ic_bpf_prog_done whatever this returns. */
int ic_bpf_prog_read(pid_t tid, union bpf_attr *attr, struct ic_bpf_prog *p);
void ic_bpf_prog_done(struct ic_bpf_prog *p);
/* BPF_PROG_ATTACH flags we carry out: BPF_F_ALLOW_MULTI, with BPF_F_REPLACE at most. */
bool ic_bpf_attach_flags_ok(int cmd, uint32_t flags);

/* --- mount(2) ------------------------------------------------------------------------------- */

#define IC_MOUNT_FSTYPE_MAX 64
#define IC_MOUNT_DATA_MAX   4096 /* the kernel copies at most a page of options */

struct ic_mount_args {
	unsigned long flags;
	char fstype[IC_MOUNT_FSTYPE_MAX];
	char source[PATH_MAX];
	char target[PATH_MAX];
	char data[IC_MOUNT_DATA_MAX]; /* "" when the caller passed none */
};

/* mount(source, target, fstype, flags, data) as args a[0..4]: the flags and fstype first
 * (-EFAULT for a NULL one), then, once the handler chose to act, the rest. */
int ic_mount_read_fstype(pid_t tid, const __u64 *a, struct ic_mount_args *m);
int ic_mount_read_rest(pid_t tid, const __u64 *a, struct ic_mount_args *m);
/* Whether name is an item of the comma list of a policy (items may be "name=helper"). */
bool ic_mount_list_has(const char *list, const char *name);
/* The FUSE helper for fstype: "ext4=fuse2fs" in the list gives "fuse2fs". */
bool ic_mount_fuse_helper(const char *list, const char *fstype, char *helper, size_t len);
/* The flag words of mount(2) a FUSE helper understands, then the caller's own options. */
void ic_mount_fuse_options(unsigned long flags, const char *data, char *out, size_t len);
/* The MOUNT_ATTR_* of flags, with nodev and nosuid unless allow_dev_suid. */
uint64_t ic_mount_attrs(unsigned long flags, bool allow_dev_suid);
/* The next "key" or "key=value" of the options in *cursor (modified in place; NULL at the
 * end), *value NULL for a flag. */
char *ic_mount_option_next(char **cursor, char **value);

/* --- sched_setscheduler(2) ------------------------------------------------------------------ */

/* The sched_param at addr for the real-time policy base (SCHED_FIFO or SCHED_RR): -EINVAL for a
 * NULL one or a priority outside the policy's range, -EPERM above max_rt_priority. */
int ic_sched_param_read(pid_t tid, uint64_t addr, int base, unsigned max_rt_priority,
			struct sched_param *param);

#endif
