/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <linux/bpf.h>
#include <linux/mount.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "common/macros.h"
#include "common/mem.h"
#include "handlers/decode.h"

/* --- bpf(2) --------------------------------------------------------------------------------- */

int ic_bpf_attr_read(pid_t tid, uint64_t addr, uint64_t size, union bpf_attr *attr)
{
	unsigned char tail[256];
	uint64_t off;
	int r;

	memset(attr, 0, sizeof(*attr));
	if (size > IC_BPF_ATTR_MAX)
		return -E2BIG;
	r = ic_mem_read(tid, addr, attr, IC_MIN(size, sizeof(*attr)));
	if (r < 0)
		return r;
	for (off = sizeof(*attr); off < size; off += sizeof(tail)) {
		size_t chunk = IC_MIN(sizeof(tail), size - off);

		r = ic_mem_read(tid, addr + off, tail, chunk);
		if (r < 0)
			return r;
		for (size_t i = 0; i < chunk; i++)
			if (tail[i])
				return -E2BIG;
	}
	return 0;
}

int ic_bpf_prog_read(pid_t tid, union bpf_attr *attr, struct ic_bpf_prog *p)
{
	size_t insns_len;
	int r;

	memset(p, 0, sizeof(*p));
	/* Fields that carry fds or kernel object ids are not translated: refused. */
	if (attr->prog_btf_fd || attr->attach_prog_fd || attr->attach_btf_id || attr->fd_array ||
	    attr->func_info_cnt || attr->line_info_cnt || attr->core_relo_cnt || attr->prog_ifindex)
		return -EINVAL;
	if (attr->insn_cnt == 0 || attr->insn_cnt > IC_BPF_INSNS_MAX)
		return attr->insn_cnt ? -E2BIG : -EINVAL;
	p->user_log = attr->log_buf;
	p->log_size = attr->log_size;
	if (p->log_size > IC_BPF_LOG_MAX ||
	    (attr->log_level && (!p->user_log || p->log_size < 128)))
		return -EINVAL;
	insns_len = (size_t)attr->insn_cnt * sizeof(*p->insns);
	p->insns = malloc(insns_len);
	p->log = p->log_size ? calloc(1, p->log_size) : NULL;
	if (!p->insns || (p->log_size && !p->log))
		return -ENOMEM;
	r = ic_mem_read(tid, attr->insns, p->insns, insns_len);
	if (r == 0)
		r = ic_read_string(tid, attr->license, p->license, sizeof(p->license));
	if (r < 0)
		return r == -ENAMETOOLONG ? -EINVAL : -EFAULT;
	attr->insns = (uintptr_t)p->insns;
	attr->license = (uintptr_t)p->license;
	attr->log_buf = (uintptr_t)p->log;
	return 0;
}

void ic_bpf_prog_done(struct ic_bpf_prog *p)
{
	free(p->insns);
	free(p->log);
	p->insns = NULL;
	p->log = NULL;
}

bool ic_bpf_attach_flags_ok(int cmd, uint32_t flags)
{
	/* Without ALLOW_MULTI a program could override those above it. */
	return cmd != BPF_PROG_ATTACH ||
	       ((flags & BPF_F_ALLOW_MULTI) && !(flags & ~(BPF_F_ALLOW_MULTI | BPF_F_REPLACE)));
}

/* --- mount(2) ------------------------------------------------------------------------------- */

int ic_mount_read_fstype(pid_t tid, const __u64 *a, struct ic_mount_args *m)
{
	m->flags = (unsigned long)a[3];
	m->source[0] = m->target[0] = m->data[0] = 0;
	if (!a[2])
		return -EFAULT;
	return ic_read_string(tid, a[2], m->fstype, sizeof(m->fstype));
}

int ic_mount_read_rest(pid_t tid, const __u64 *a, struct ic_mount_args *m)
{
	int r = a[0] ? ic_read_string(tid, a[0], m->source, sizeof(m->source)) : -EFAULT;

	if (r == 0)
		r = ic_read_string(tid, a[1], m->target, sizeof(m->target));
	if (r < 0 || !a[4])
		return r;
	r = ic_read_string(tid, a[4], m->data, sizeof(m->data));
	/* Options longer than the kernel reads are cut where it would cut them. */
	if (r == -ENAMETOOLONG) {
		m->data[sizeof(m->data) - 1] = 0;
		r = 0;
	}
	if (r < 0)
		m->data[0] = 0;
	return r;
}

bool ic_mount_list_has(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p && *p;) {
		const char *end = strchrnul(p, ','), *eq;
		const char *a = p + strspn(p, " ");

		eq = memchr(a, '=', (size_t)(end - a));
		if ((size_t)((eq ? eq : end) - a) >= n && strncmp(a, name, n) == 0 &&
		    (a[n] == ',' || a[n] == '=' || a[n] == ' ' || a[n] == 0))
			return true;
		p = *end ? end + 1 : end;
	}
	return false;
}

bool ic_mount_fuse_helper(const char *list, const char *fstype, char *helper, size_t len)
{
	size_t n = strlen(fstype);

	for (const char *p = list; p && *p;) {
		const char *end = strchrnul(p, ','), *a = p + strspn(p, " ");

		if (strncmp(a, fstype, n) == 0 && a[n] == '=') {
			size_t hl = (size_t)(end - (a + n + 1));

			while (hl && a[n + hl] == ' ')
				hl--;
			if (hl == 0 || hl >= len)
				return false;
			memcpy(helper, a + n + 1, hl);
			helper[hl] = 0;
			return true;
		}
		p = *end ? end + 1 : end;
	}
	return false;
}

/* The flags of mount(2) the mount handler carries over: as mount attributes for a kernel mount,
 * as option words for a FUSE helper (0 or NULL where that side has no equivalent). */
/* clang-format off */
static const struct {
	unsigned long flag;
	uint64_t attr;
	const char *word;
} ms_flags[] = {
	{MS_RDONLY,	 MOUNT_ATTR_RDONLY,	 "ro"},
	{MS_NOSUID,	 MOUNT_ATTR_NOSUID,	 "nosuid"},
	{MS_NODEV,	 MOUNT_ATTR_NODEV,	 "nodev"},
	{MS_NOEXEC,	 MOUNT_ATTR_NOEXEC,	 "noexec"},
	{MS_NOATIME,	 MOUNT_ATTR_NOATIME,	 "noatime"},
	{MS_NODIRATIME,	 MOUNT_ATTR_NODIRATIME,	 NULL},
	{MS_STRICTATIME, MOUNT_ATTR_STRICTATIME, NULL},
	{MS_SYNCHRONOUS, 0,			 "sync"},
};
/* clang-format on */

uint64_t ic_mount_attrs(unsigned long flags, bool allow_dev_suid)
{
	uint64_t a = allow_dev_suid ? 0 : MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID;

	for (size_t i = 0; i < ARRAY_SIZE(ms_flags); i++)
		if (flags & ms_flags[i].flag)
			a |= ms_flags[i].attr;
	return a;
}

void ic_mount_fuse_options(unsigned long flags, const char *data, char *out, size_t len)
{
	size_t n = 0;

	out[0] = 0;
	for (size_t i = 0; i < ARRAY_SIZE(ms_flags); i++)
		if ((flags & ms_flags[i].flag) && ms_flags[i].word)
			n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%s%s", n ? "," : "",
					      ms_flags[i].word);
	if (data[0] && n < len)
		snprintf(out + n, len - n, "%s%s", n ? "," : "", data);
}

char *ic_mount_option_next(char **cursor, char **value)
{
	char *o = *cursor, *end, *eq;

	*value = NULL;
	if (!o)
		return NULL;
	o += strspn(o, ",");
	if (!*o) {
		*cursor = NULL;
		return NULL;
	}
	end = strchrnul(o, ',');
	*cursor = *end ? end + 1 : NULL;
	*end = 0;
	eq = strchr(o, '=');
	if (eq) {
		*eq = 0;
		*value = eq + 1;
	}
	return o;
}

/* --- sched_setscheduler(2) ------------------------------------------------------------------ */

int ic_sched_param_read(pid_t tid, uint64_t addr, int base, unsigned max_rt_priority,
			struct sched_param *param)
{
	int r;

	if (!addr)
		return -EINVAL;
	r = ic_mem_read(tid, addr, param, sizeof(*param));
	if (r < 0)
		return r;
	if (param->sched_priority < sched_get_priority_min(base) ||
	    param->sched_priority > sched_get_priority_max(base))
		return -EINVAL;
	if ((unsigned)param->sched_priority > max_rt_priority)
		return -EPERM;
	return 0;
}
