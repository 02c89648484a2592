/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_HANDLERS_HANDLERS_H
#define IC_HANDLERS_HANDLERS_H

#include <errno.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/sysinfo.h>
#include <sys/types.h>

#include "common/caller.h"
#include "common/cgroup.h"
#include "common/log.h"
#include "handlers/table.h"

struct ic_policy;

struct ic_resp {
	int64_t val;
	int error; /* positive errno, 0 for success */
};

/* The container as handlers see it. Owned by the registry; lives while a request holds it. */
struct ic_container_info {
	char id[256];
	pid_t init_pid;
	uint64_t init_start_ticks; /* of init_pid, to spot pid reuse and to compute uptime */
	struct ic_cgroup cgroup;
	struct ic_userns userns; /* of init_pid, read at registration */
	void *state;		 /* the handlers' per-container state (ic_syscall_state) */
	/* The budget of what its requests' handlers log (log.ratelimit.*). */
	struct ic_log_ratelimit log_rl;
};

struct ic_req {
	const struct seccomp_notif *notif;
	const struct ic_syscall *sys; /* NULL: not a row of ours */
	enum ic_abi abi;
	const struct ic_policy *policy;
	struct ic_container_info *ct;
	void *state;	      /* the row's per-container state, NULL when it keeps none */
	uint64_t deadline_ns; /* CLOCK_MONOTONIC: past it the request gets the failure answer */
	/* Re-checks the notification id with the kernel and the request's deadline: 0 while the
	 * request may still be acted on, -ENOENT once the target is gone, -ETIMEDOUT past the
	 * deadline. Handlers call it after reading target memory and right before any side effect,
	 * and return ic_verdict_of(r) when it fails. */
	int (*still_valid)(struct ic_req *req);
	/* Install our fd in the caller (SECCOMP_IOCTL_NOTIF_ADDFD, O_CLOEXEC): its number there,
	 * or -errno (-ENOENT: the target is gone). After still_valid, as a side effect. */
	int (*add_fd)(struct ic_req *req, int fd);
	void *core; /* the core's, for still_valid and add_fd */
};

/* The verdict for a failed still_valid: nothing to answer for a gone target; the failure answer
 * (and no side effect) past the deadline. */
static inline enum ic_verdict ic_verdict_of(int still_valid_error)
{
	return still_valid_error == -ENOENT ? IC_VERDICT_GONE : IC_VERDICT_FAILED;
}

/* Defines handler `fn` (a row's entry point, declared where the table names it in table.c):
 *     IC_HANDLER(ic_handle_x) { ... uses req and resp ... } */
#define IC_HANDLER(fn)                                                                             \
	enum ic_verdict fn(struct ic_req *req, struct ic_resp *resp);                              \
	enum ic_verdict fn(struct ic_req *req, struct ic_resp *resp)

/* Dispatch through the syscall table: CONTINUE for what is not a row of ours or not enabled by
 * the policy. Worker threads (acceptors for fast rows); never touches the listener fd or a
 * socket. */
enum ic_verdict ic_handle(struct ic_req *req, struct ic_resp *resp);

/* Read the caller's identity and place it: CONTINUE unless it is in the container's own
 * (non-initial) user namespace and holds capability cap there. */
enum ic_verdict ic_caller_check(struct ic_req *req, struct ic_caller *caller, int cap);
/* O_PATH fds of the root and cwd of caller (read by ic_caller_check), proved to be the notifying
 * task's by a still_valid after opening them. IC_VERDICT_RESPOND when they are good, else the
 * verdict to return. */
enum ic_verdict ic_caller_open_dirs(struct ic_req *req, const struct ic_caller *caller, int *root,
				    int *cwd);

/* The container's view of sysinfo for a caller of the given ABI, as bytes to write: the size of
 * the layout written into buf (112 native, 64 i386), 0 when buflen is too small. */
size_t ic_sysinfo_layout(const struct sysinfo *si, enum ic_abi abi, void *buf, size_t buflen);
/* Any thread: how many cgroup readings sysinfo keeps (one per cgroup pair its containers are
 * in), for tests and stats. */
unsigned long ic_sysinfo_readings(void);

#endif
