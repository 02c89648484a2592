/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "common/conf.h"
#include "handlers/handlers.h"

/* A missing entry means "not ours": the kernel decides. One row per syscall. */
/* clang-format off */
static const ic_handler_fn handlers[_IC_SYS_MAX] = {
	[IC_SYS_MKNOD] = ic_handle_mknod,
	[IC_SYS_MKNODAT] = ic_handle_mknod,
	[IC_SYS_SETXATTR] = ic_handle_setxattr,
	[IC_SYS_LSETXATTR] = ic_handle_setxattr,
	[IC_SYS_FSETXATTR] = ic_handle_setxattr,
	[IC_SYS_MOUNT] = ic_handle_mount,
	[IC_SYS_BPF] = ic_handle_bpf,
	[IC_SYS_SCHED_SETSCHEDULER] = ic_handle_sched,
	[IC_SYS_SYSINFO] = ic_handle_sysinfo,
};
/* clang-format on */

bool ic_policy_intercepts(const struct ic_policy *p, enum ic_sys sys)
{
	switch (sys) {
	case IC_SYS_MKNOD:
	case IC_SYS_MKNODAT:
		return p->mknod;
	case IC_SYS_SETXATTR:
	case IC_SYS_LSETXATTR:
	case IC_SYS_FSETXATTR:
		return p->setxattr;
	case IC_SYS_MOUNT:
		return p->mount;
	case IC_SYS_BPF:
		return p->bpf;
	case IC_SYS_SCHED_SETSCHEDULER:
		return p->sched_setscheduler;
	case IC_SYS_SYSINFO:
		return p->sysinfo;
	case _IC_SYS_MAX:
	case IC_SYS_UNKNOWN:
		break;
	}
	return false;
}

enum ic_verdict ic_handle(struct ic_req *req, struct ic_resp *resp)
{
	resp->val = 0;
	resp->error = 0;
	if (req->sys < 0 || req->sys >= _IC_SYS_MAX || !handlers[req->sys] || !req->policy ||
	    !ic_policy_intercepts(req->policy, req->sys))
		return IC_VERDICT_CONTINUE;
	return handlers[req->sys](req, resp);
}

enum ic_verdict ic_caller_check(struct ic_req *req, struct ic_caller *caller, int cap)
{
	pid_t tid = (pid_t)req->notif->pid;
	bool same;
	int r = ic_caller_read(tid, caller);

	if (r == 0)
		r = ic_caller_in_userns(tid, &req->ct->userns, &same);
	if (r < 0)
		return r == -ESRCH || r == -ENOENT ? IC_VERDICT_GONE : IC_VERDICT_FAILED;
	/* In the host's namespace the kernel itself judges; in another namespace than the
	 * container's, or without the capability in its own, the kernel's refusal stands. */
	if (!same || req->ct->userns.initial || !(caller->cap_eff & (1ULL << cap)))
		return IC_VERDICT_CONTINUE;
	return IC_VERDICT_RESPOND;
}

enum ic_verdict ic_caller_open_dirs(struct ic_req *req, int *root, int *cwd)
{
	pid_t tid = (pid_t)req->notif->pid;
	int r;

	*root = ic_caller_open_root(tid);
	*cwd = ic_caller_open_cwd(tid);
	r = req->still_valid(req);
	if (r < 0)
		return ic_verdict_of(r);
	return *root < 0 || *cwd < 0 ? IC_VERDICT_GONE : IC_VERDICT_RESPOND;
}
