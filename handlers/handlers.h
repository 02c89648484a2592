/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_HANDLERS_HANDLERS_H
#define IC_HANDLERS_HANDLERS_H

#include <errno.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/sysinfo.h>
#include <sys/types.h>

#include "common/caller.h"
#include "common/cgroup.h"
#include "common/syscalls.h"

struct ic_policy;

/* What a handler decides; the core turns it into exactly one answer. */
enum ic_verdict {
	IC_VERDICT_RESPOND = 0, /* answer resp->val / resp->error */
	IC_VERDICT_CONTINUE =
	    1, /* let the kernel run the syscall (SECCOMP_USER_NOTIF_FLAG_CONTINUE) */
	IC_VERDICT_FAILED = 2, /* internal error: answered with the policy's failure answer */
	IC_VERDICT_GONE = 3,   /* the notification is no longer valid: nothing to answer */
	_IC_VERDICT_MAX
};

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

	/* mknod: whether the last mount a node was made on honours devices (mount's unique id). */
	pthread_mutex_t dev_lock;
	uint64_t dev_mnt_id;
	int dev_usable; /* -1 unknown, 0 no (nodev), 1 yes */

	/* sysinfo cache: the last answer computed for this container. */
	pthread_mutex_t si_lock;
	uint64_t si_stamp_ns;
	bool si_valid;
	struct sysinfo si;
};

struct ic_req {
	const struct seccomp_notif *notif;
	enum ic_sys sys;
	enum ic_abi abi;
	const struct ic_policy *policy;
	struct ic_container_info *ct;
	int mem_fd; /* the caller's /proc/<pid>/mem when a front end provided it (LXC), else -1 */
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

typedef enum ic_verdict (*ic_handler_fn)(struct ic_req *req, struct ic_resp *resp);

/* The verdict for a failed still_valid: nothing to answer for a gone target; the failure answer
 * (and no side effect) past the deadline. */
static inline enum ic_verdict ic_verdict_of(int still_valid_error)
{
	return still_valid_error == -ENOENT ? IC_VERDICT_GONE : IC_VERDICT_FAILED;
}

/* Worker threads; never touches the listener fd or a socket. */
enum ic_verdict ic_handle(struct ic_req *req, struct ic_resp *resp);
bool ic_policy_intercepts(const struct ic_policy *p, enum ic_sys sys);

enum ic_verdict ic_handle_sysinfo(struct ic_req *req, struct ic_resp *resp);
enum ic_verdict ic_handle_mknod(struct ic_req *req, struct ic_resp *resp);
enum ic_verdict ic_handle_setxattr(struct ic_req *req, struct ic_resp *resp);
enum ic_verdict ic_handle_sched(struct ic_req *req, struct ic_resp *resp);
enum ic_verdict ic_handle_bpf(struct ic_req *req, struct ic_resp *resp);
enum ic_verdict ic_handle_mount(struct ic_req *req, struct ic_resp *resp);
/* Read the caller's identity and place it: CONTINUE unless it is in the container's own
 * (non-initial) user namespace and holds capability cap there. */
enum ic_verdict ic_caller_check(struct ic_req *req, struct ic_caller *caller, int cap);
/* O_PATH fds of the caller's root and cwd, proved to be the notifying task's by a still_valid
 * after opening them. IC_VERDICT_RESPOND when they are good, else the verdict to return. */
enum ic_verdict ic_caller_open_dirs(struct ic_req *req, int *root, int *cwd);

/* The container's view of sysinfo for a caller of the given ABI, as bytes to write. Exposed for
 * tests. Returns the size of the layout written into buf (112 native, 64 i386). */
size_t ic_sysinfo_layout(const struct sysinfo *si, enum ic_abi abi, void *buf, size_t buflen);
int ic_sysinfo_compute(struct ic_container_info *ct, struct sysinfo *si);

#endif
