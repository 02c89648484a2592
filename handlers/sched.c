/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/caller.h"
#include "common/conf.h"
#include "common/log.h"
#include "handlers/decode.h"
#include "handlers/handlers.h"

#ifndef SCHED_RESET_ON_FORK
#define SCHED_RESET_ON_FORK 0x40000000
#endif

/* A task's pid namespace, and its pids from the host's namespace down to its own. */
struct pidinfo {
	dev_t ns_dev;
	ino_t ns_ino;
	int depth;
	pid_t nspid[32];
};

static int pid_info(pid_t pid, struct pidinfo *pi)
{
	char path[64], buf[4096], *line;
	struct stat st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	if (stat(path, &st) < 0)
		return -errno;
	pi->ns_dev = st.st_dev;
	pi->ns_ino = st.st_ino;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	line = strstr(buf, "\nNSpid:");
	if (!line)
		return -EIO;
	pi->depth = 0;
	for (char *p = line + 7, *end; pi->depth < 32; p = end) {
		long v = strtol(p, &end, 10);

		if (end == p)
			break;
		pi->nspid[pi->depth++] = (pid_t)v;
	}
	return pi->depth > 0 ? 0 : -EIO;
}

/* The host pid of the task that is `pid` in caller's pid namespace, among the tasks of that very
 * namespace (the container's): -ESRCH otherwise, as the kernel says for a pid it cannot see. */
static pid_t host_pid_of(const struct pidinfo *caller, pid_t pid)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;
	pid_t found = -ESRCH;

	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		struct pidinfo pi;
		pid_t host;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		host = (pid_t)atoi(de->d_name);
		if (pid_info(host, &pi) < 0 || pi.depth != caller->depth ||
		    pi.nspid[pi.depth - 1] != pid || pi.ns_ino != caller->ns_ino ||
		    pi.ns_dev != caller->ns_dev)
			continue;
		found = host;
		break;
	}
	closedir(dir);
	return found;
}

/* sched_setscheduler(pid, policy, param): real-time policies for root in the container with
 * CAP_SYS_NICE in its user namespace, up to the policy's sched.max_rt_priority, on tasks of the
 * caller's own pid namespace. Everything else the kernel judges (it lets anyone pick
 * SCHED_OTHER, BATCH or IDLE for its own tasks). */
IC_HANDLER(ic_handle_sched)
{
	const __u64 *a = req->notif->data.args;
	pid_t tid = (pid_t)req->notif->pid, pid = (pid_t)(int32_t)a[0], target;
	int policy = (int)(int32_t)a[1], base = policy & ~SCHED_RESET_ON_FORK;
	struct sched_param param;
	struct ic_caller caller;
	struct pidinfo me;
	enum ic_verdict v;
	int r;

	if (base != SCHED_FIFO && base != SCHED_RR)
		return IC_VERDICT_CONTINUE;
	v = ic_caller_check(req, &caller, CAP_SYS_NICE);
	if (v != IC_VERDICT_RESPOND)
		return v;
	if (caller.euid != req->ct->userns.root_uid)
		return IC_VERDICT_CONTINUE; /* not root in the container */
	if (pid < 0) {
		resp->error = EINVAL;
		return IC_VERDICT_RESPOND;
	}
	r = ic_sched_param_read(tid, a[2], base, req->policy->sched_max_rt_priority, &param);
	if (r == -EFAULT || r == -EINVAL || r == -EPERM) {
		resp->error = -r;
		return IC_VERDICT_RESPOND;
	}
	if (r < 0)
		return IC_VERDICT_GONE;
	if (pid_info(tid, &me) < 0)
		return IC_VERDICT_GONE;
	target = pid == 0 ? tid : host_pid_of(&me, pid);
	if (target < 0) {
		resp->error = -target;
		return IC_VERDICT_RESPOND;
	}
	r = req->still_valid(req);
	if (r < 0)
		return ic_verdict_of(r);
	r = sched_setscheduler(target, policy, &param) < 0 ? -errno : 0;
	if (r == 0)
		log_info("container %s: pid %d sched_setscheduler(%d -> host %d, %s, %d): done",
			 req->ct->id, (int)tid, (int)pid, (int)target,
			 base == SCHED_FIFO ? "FIFO" : "RR", param.sched_priority);
	resp->error = -r;
	return IC_VERDICT_RESPOND;
}
