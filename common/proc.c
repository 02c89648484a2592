/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/proc.h"

int ic_proc_starttime(pid_t pid, uint64_t *ticks)
{
	char path[64], buf[1024], *p;
	_cleanup_close_ int fd = -EBADF;
	ssize_t n;
	unsigned long long v;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = 0;
	/* comm may hold spaces and parentheses: fields restart after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -EIO;
	/* After the ')' come fields 3, 4, ...: step over the space before each, up to field 22. */
	for (int field = 3; field <= 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -EIO;
	}
	if (sscanf(p + 1, "%llu", &v) != 1)
		return -EIO;
	*ticks = v;
	return 0;
}

double ic_proc_boottime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t ic_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int ic_pidfd_open(pid_t pid, unsigned flags)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, flags);

	return fd < 0 ? -errno : fd;
}

void ic_proc_peer_name(int sock, char *buf, size_t len)
{
	struct ucred cred;
	socklen_t sl = sizeof(cred);
	char path[64], comm[32] = "?";
	_cleanup_close_ int fd = -EBADF;
	ssize_t n;

	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &sl) < 0) {
		snprintf(buf, len, "unknown peer");
		return;
	}
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)cred.pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && (n = read(fd, comm, sizeof(comm) - 1)) > 0) {
		comm[n] = 0;
		comm[strcspn(comm, "\n")] = 0;
	}
	snprintf(buf, len, "pid %d uid %u (%s)", (int)cred.pid, cred.uid, comm);
}

int ic_thread_start(pthread_t *t, void *(*fn)(void *), void *arg, int cpu, const char *name)
{
	cpu_set_t set;
	int r = pthread_create(t, NULL, fn, arg);

	if (r)
		return -r;
	if (cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		/* Best effort: a cpuset may forbid it, and the thread then runs where it may. */
		(void)pthread_setaffinity_np(*t, sizeof(set), &set);
	}
	(void)pthread_setname_np(*t, name);
	return 0;
}
