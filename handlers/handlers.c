/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "common/conf.h"
#include "common/fsctx.h"
#include "common/log.h"
#include "handlers/handlers.h"

/* Per thread: the container whose request parked the thread's context, if any. Compared by
 * address only: a container freed and another allocated there in the meantime still meets the
 * root identity check (ic_fsctx_scope_enter_caller) and the age limit. */
static __thread const struct ic_container_info *parked_by;

enum ic_verdict ic_handle(struct ic_req *req, struct ic_resp *resp)
{
	resp->val = 0;
	resp->error = 0;
	struct ic_log_context log_ctx;
	enum ic_verdict v;

	if (!req->sys || !req->sys->handler || !req->policy ||
	    !ic_syscall_enabled(req->sys, req->policy))
		return IC_VERDICT_CONTINUE;
	/* What the handler logs names the container, the syscall and the caller in the journal,
	 * and counts against the container's budget, so that no container can flood the log. */
	log_ctx = (struct ic_log_context){.container = req->ct->id,
					  .syscall = ic_syscall_name(req->sys),
					  .pid = (int)req->notif->pid,
					  .rl = &req->ct->log_rl};
	ic_log_set_context(&log_ctx);
	/* The others use paths of the host, and the host's ids. A context parked for another
	 * container, or unused for IC_FSCTX_PARKED_MAX_MS, goes too: however busy the worker, no
	 * container's root and ids outlive their use by more than that (doc/design.md §10). */
	if (!req->sys->keeps_ctx || req->ct != parked_by)
		ic_fsctx_release();
	else
		ic_fsctx_release_stale(IC_FSCTX_PARKED_MAX_MS);
	v = req->sys->handler(req, resp);
	parked_by = ic_fsctx_parked() ? req->ct : NULL;
	ic_log_set_context(NULL);
	return v;
}

enum ic_verdict ic_caller_check(struct ic_req *req, struct ic_caller *caller, int cap)
{
	pid_t tid = (pid_t)req->notif->pid;
	bool same;
	int r = ic_caller_read(tid, caller);

	if (r == 0)
		r = ic_caller_in_userns(caller, &req->ct->userns, &same);
	if (r < 0)
		return r == -ESRCH || r == -ENOENT ? IC_VERDICT_GONE : IC_VERDICT_FAILED;
	/* In the host's namespace the kernel itself judges; in another namespace than the
	 * container's, or without the capability in its own, the kernel's refusal stands. */
	if (!same || req->ct->userns.initial || !(caller->cap_eff & (1ULL << cap)))
		return IC_VERDICT_CONTINUE;
	return IC_VERDICT_RESPOND;
}

enum ic_verdict ic_caller_open_dirs(struct ic_req *req, const struct ic_caller *caller, int *root,
				    int *cwd)
{
	int r;

	*root = ic_caller_open_root(caller);
	*cwd = ic_caller_open_cwd(caller);
	r = req->still_valid(req);
	if (r < 0)
		return ic_verdict_of(r);
	return *root < 0 || *cwd < 0 ? IC_VERDICT_GONE : IC_VERDICT_RESPOND;
}
