/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* Per-syscall latency as the caller sees it: N timed calls, one SUMMARY line.
 *   intercept-bench [--label L] [--warmup W] [--under allow|agent] SYSCALL N [DIR]
 * --under allow: the calls go through a seccomp filter that allows everything (the filter's
 * own cost); --under agent: the syscall is notified to a minimal agent of ours on the same CPU
 * (blocking RECV, SEND val 0, sync wake-up): the kernel's round-trip floor. Run it plainly, so,
 * and inside a container (intercept-run ... -- intercept-bench ...) to compare: tools/quickstart
 * bench does all in one run. */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static const char *node_dir; /* mknod and fifo: where the node is made and unlinked */
static char node_path[4096];

static int call(const char *what)
{
	struct sysinfo si;

	if (strcmp(what, "sysinfo") == 0)
		return sysinfo(&si);
	if (strcmp(what, "getppid") == 0)
		return (int)syscall(SYS_getppid);
	if (strcmp(what, "mknod") == 0)
		return mknod(node_path, S_IFCHR | 0666, makedev(1, 3));
	if (strcmp(what, "fifo") == 0)
		return mknod(node_path, S_IFIFO | 0666, 0);
	errno = EINVAL;
	return -1;
}

/* Outside the timed region: the node goes again so the next call creates it anew. */
static void after(const char *what)
{
	if (node_dir)
		unlink(node_path);
}

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP 1ULL
#endif

static int nr_of(const char *what)
{
	if (!strcmp(what, "sysinfo"))
		return SYS_sysinfo;
	if (!strcmp(what, "getppid"))
		return SYS_getppid;
	if (!strcmp(what, "mknod") || !strcmp(what, "fifo"))
		return SYS_mknod;
	return -1;
}

/* A filter that allows everything, or notifies nr (x86_64) and allows the rest. */
static int load_filter(int notify_nr)
{
	struct sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
	struct sock_filter notify[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 3),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)notify_nr, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog =
	    notify_nr < 0 ? (struct sock_fprog){1, allow}
			  : (struct sock_fprog){sizeof(notify) / sizeof(notify[0]), notify};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			    notify_nr < 0 ? 0 : SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
}

static void pin_here(void)
{
	cpu_set_t set;
	int cpu = sched_getcpu();

	CPU_ZERO(&set);
	CPU_SET(cpu < 0 ? 0 : cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* --under agent: fork; the child (the caller) gets a notify filter and hands us its listener;
 * we answer every notification with val 0 until it hangs up. Returns only in the child. */
static void become_agent(const char *what)
{
	int sp[2], nr = nr_of(what), status;
	pid_t pid;

	if (nr < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0)
		exit(2);
	pin_here(); /* the child inherits it: both on one CPU */
	pid = fork();
	if (pid < 0)
		exit(2);
	if (pid == 0) {
		char c[CMSG_SPACE(sizeof(int))];
		struct iovec iov = {.iov_base = "L", .iov_len = 1};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = c,
				    .msg_controllen = sizeof(c)};
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		int fd;

		close(sp[0]);
		fd = load_filter(nr);
		if (fd < 0)
			exit(2);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
		if (sendmsg(sp[1], &mh, 0) != 1)
			exit(2);
		close(fd);
		close(sp[1]);
		return;
	}
	close(sp[1]);
	{
		char c[CMSG_SPACE(sizeof(int))], b;
		struct iovec iov = {.iov_base = &b, .iov_len = 1};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = c,
				    .msg_controllen = sizeof(c)};
		struct seccomp_notif req;
		struct seccomp_notif_resp resp;
		int fd;

		if (recvmsg(sp[0], &mh, 0) != 1 || !CMSG_FIRSTHDR(&mh))
			exit(2);
		memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
		(void)ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
		for (;;) {
			struct pollfd p = {.fd = fd, .events = POLLIN};

			/* RECV would wait forever once the target is gone: ask poll first. */
			if (poll(&p, 1, -1) < 0 && errno != EINTR)
				break;
			if (!(p.revents & POLLIN))
				break;
			memset(&req, 0, sizeof(req));
			if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
				if (errno == ENOENT || errno == EINTR)
					continue;
				break; /* the target is gone */
			}
			resp = (struct seccomp_notif_resp){.id = req.id};
			(void)ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
		}
		waitpid(pid, &status, 0);
		exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples, in microseconds. */
static double pct(const uint64_t *sorted, long n, double q)
{
	long i = (long)(q * (double)n + 0.5) - 1;

	return (double)sorted[i < 0 ? 0 : i >= n ? n - 1 : i] / 1000.0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"under", required_argument, NULL, 'u'},
					     {"label", required_argument, NULL, 'l'},
					     {"warmup", required_argument, NULL, 'w'},
					     {}};
	const char *label = "native", *under = NULL;
	long warmup = 1000, n;
	uint64_t *lat, t_start, t_end;
	int c;

	while ((c = getopt_long(argc, argv, "l:w:u:", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			under = optarg;
			break;
		case 'l':
			label = optarg;
			break;
		case 'w':
			warmup = atol(optarg);
			break;
		default:
			return 2;
		}
	}
	if (argc - optind == 3 &&
	    (!strcmp(argv[optind], "mknod") || !strcmp(argv[optind], "fifo"))) {
		node_dir = argv[optind + 2];
		snprintf(node_path, sizeof(node_path), "%s/ic-bench-node", node_dir);
		unlink(node_path);
	} else if (argc - optind != 2) {
		fprintf(stderr,
			"Usage: intercept-bench [--label L] [--warmup W] [--under allow|agent] "
			"sysinfo|getppid N | mknod|fifo N DIR\n");
		return 2;
	}
	if (under && !strcmp(under, "allow")) {
		if (load_filter(-1) < 0) {
			fprintf(stderr, "intercept-bench: cannot load a filter: %s\n",
				strerror(errno));
			return 1;
		}
	} else if (under && !strcmp(under, "agent")) {
		become_agent(argv[optind]);
	} else if (under) {
		fprintf(stderr, "intercept-bench: --under takes allow or agent, not '%s'\n", under);
		return 2;
	}
	n = atol(argv[optind + 1]);
	if (n <= 0 || n > 100000000 || call(argv[optind]) < 0 || (after(argv[optind]), 0)) {
		fprintf(stderr, "intercept-bench: bad syscall or count: %s\n",
			strerror(errno ? errno : EINVAL));
		return 2;
	}
	lat = malloc((size_t)n * sizeof(*lat));
	if (!lat) {
		fprintf(stderr, "intercept-bench: out of memory for %ld samples\n", n);
		return 1;
	}
	for (long i = 0; i < warmup; i++) {
		call(argv[optind]);
		after(argv[optind]);
	}
	t_start = now_ns();
	for (long i = 0; i < n; i++) {
		uint64_t t0 = now_ns();

		if (call(argv[optind]) < 0) {
			fprintf(stderr, "intercept-bench: %s failed: %m\n", argv[optind]);
			return 1;
		}
		lat[i] = now_ns() - t0;
		after(argv[optind]);
	}
	t_end = now_ns();
	/* mknod and fifo: calls/s over the timed calls alone, not the unlinks between them. */
	if (node_dir) {
		t_end = t_start;
		for (long i = 0; i < n; i++)
			t_end += lat[i];
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp_u64);
	printf("SUMMARY label=%s syscall=%s n=%ld p50_us=%.3f p99_us=%.3f p999_us=%.3f "
	       "calls_per_s=%.0f\n",
	       label, argv[optind], n, pct(lat, n, 0.5), pct(lat, n, 0.99), pct(lat, n, 0.999),
	       (double)n * 1e9 / (double)(t_end - t_start));
	free(lat);
	return 0;
}
