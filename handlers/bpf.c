/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/caller.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/mem.h"
#include "common/proc.h"
#include "handlers/decode.h"
#include "handlers/handlers.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* Whether fd (ours) is a cgroup2 directory at or below dir. */
static bool cgroup_inside(int fd, const char *dir)
{
	char link[64], path[4096];
	struct statfs sf;
	size_t n = strlen(dir);
	ssize_t l;

	if (fstatfs(fd, &sf) < 0 || (unsigned long)sf.f_type != CGROUP2_SUPER_MAGIC)
		return false;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	l = readlink(link, path, sizeof(path) - 1);
	if (l <= 0)
		return false;
	path[l] = 0;
	return strncmp(path, dir, n) == 0 && (path[n] == 0 || path[n] == '/');
}

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static enum ic_verdict prog_load(struct ic_req *req, struct ic_resp *resp, union bpf_attr *attr)
{
	pid_t tid = (pid_t)req->notif->pid;
	_cleanup_(ic_bpf_prog_done) struct ic_bpf_prog p = {0};
	_cleanup_close_ int prog = -EBADF;
	int r, remote;

	r = ic_bpf_prog_read(tid, attr, &p);
	if (r == -ENOMEM)
		return IC_VERDICT_FAILED;
	if (r < 0) {
		resp->error = -r;
		return IC_VERDICT_RESPOND;
	}

	r = req->still_valid(req);
	if (r < 0)
		return ic_verdict_of(r);
	prog = (int)sys_bpf(BPF_PROG_LOAD, attr);
	if (prog < 0) {
		int err = errno;

		/* The verifier's words go back to the caller, as the kernel would write them. */
		if (p.log && p.log_size && p.user_log)
			(void)ic_mem_write(tid, p.user_log, p.log,
					   strnlen(p.log, p.log_size - 1) + 1);
		resp->error = err;
		return IC_VERDICT_RESPOND;
	}
	remote = req->add_fd(req, prog);
	if (remote < 0) {
		resp->error = remote == -EMFILE ? EMFILE : EBADF;
		return remote == -ENOENT ? IC_VERDICT_GONE : IC_VERDICT_RESPOND;
	}
	log_info("container %s: pid %d bpf PROG_LOAD cgroup-device (%u insns): fd %d", req->ct->id,
		 (int)tid, attr->insn_cnt, remote);
	resp->val = remote;
	return IC_VERDICT_RESPOND;
}

static int take_fd(int pidfd, uint32_t fd)
{
	int r = (int)syscall(SYS_pidfd_getfd, pidfd, (int)fd, 0);

	return r < 0 ? -errno : r;
}

static enum ic_verdict prog_attach(struct ic_req *req, struct ic_resp *resp, int cmd,
				   union bpf_attr *attr)
{
	pid_t tid = (pid_t)req->notif->pid;
	_cleanup_close_ int pidfd = -EBADF, cg = -EBADF, prog = -EBADF, old = -EBADF;
	char dir[8192];
	uint32_t flags = attr->attach_flags;
	int r;

	if (!ic_bpf_attach_flags_ok(cmd, flags)) {
		resp->error = EPERM;
		return IC_VERDICT_RESPOND;
	}
	if (ic_cgroup2_dir(req->ct->init_pid, dir, sizeof(dir)) < 0) {
		resp->error = EPERM;
		return IC_VERDICT_RESPOND;
	}
	/* PIDFD_THREAD: the caller may be any thread of its process. */
	pidfd = ic_pidfd_open(tid, O_EXCL);
	if (pidfd < 0)
		return IC_VERDICT_GONE;
	r = req->still_valid(req);
	if (r < 0)
		return ic_verdict_of(r);
	cg = take_fd(pidfd, attr->target_fd);
	prog = take_fd(pidfd, attr->attach_bpf_fd);
	if (flags & BPF_F_REPLACE)
		old = take_fd(pidfd, attr->replace_bpf_fd);
	if (cg < 0 || prog < 0 || ((flags & BPF_F_REPLACE) && old < 0)) {
		resp->error = EBADF;
		return IC_VERDICT_RESPOND;
	}
	if (!cgroup_inside(cg, dir)) {
		resp->error = EPERM;
		return IC_VERDICT_RESPOND;
	}
	attr->target_fd = (uint32_t)cg;
	attr->attach_bpf_fd = (uint32_t)prog;
	attr->replace_bpf_fd = flags & BPF_F_REPLACE ? (uint32_t)old : 0;
	r = sys_bpf(cmd, attr) < 0 ? -errno : 0;
	if (r == 0)
		log_info("container %s: pid %d bpf %s cgroup-device: done", req->ct->id, (int)tid,
			 cmd == BPF_PROG_ATTACH ? "PROG_ATTACH" : "PROG_DETACH");
	resp->error = -r;
	return IC_VERDICT_RESPOND;
}

/* bpf(cmd, attr, size): device-cgroup programs for nested runtimes. Loaded with host privilege
 * and handed to the caller as an O_CLOEXEC fd; attached only with BPF_F_ALLOW_MULTI inside the
 * container's own cgroup2 subtree, so a container can only narrow its device access. */
IC_HANDLER(ic_handle_bpf)
{
	const __u64 *a = req->notif->data.args;
	int cmd = (int)(int32_t)a[0];
	struct ic_caller caller;
	union bpf_attr attr;
	enum ic_verdict v;
	int r;

	if (!req->policy->bpf_devices ||
	    (cmd != BPF_PROG_LOAD && cmd != BPF_PROG_ATTACH && cmd != BPF_PROG_DETACH))
		return IC_VERDICT_CONTINUE;
	r = ic_bpf_attr_read((pid_t)req->notif->pid, a[1], a[2], &attr);
	if (r == -ESRCH)
		return IC_VERDICT_GONE;
	if (r < 0) {
		resp->error = -r;
		return IC_VERDICT_RESPOND;
	}
	if (cmd == BPF_PROG_LOAD ? attr.prog_type != BPF_PROG_TYPE_CGROUP_DEVICE
				 : attr.attach_type != BPF_CGROUP_DEVICE)
		return IC_VERDICT_CONTINUE;
	v = ic_caller_check(req, &caller, CAP_SYS_ADMIN);
	if (v != IC_VERDICT_RESPOND)
		return v;
	return cmd == BPF_PROG_LOAD ? prog_load(req, resp, &attr)
				    : prog_attach(req, resp, cmd, &attr);
}
