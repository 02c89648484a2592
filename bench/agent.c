/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/bench.h"
#include "common/macros.h"
#include "common/sock.h"

/* The minimal agents: what the kernel's round trip costs with nothing but RECV and SEND val 0
 * in between, so that interceptd's figures have a floor to be held against. */

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP 1ULL
#endif

static int recv_fd(int sock)
{
	_cleanup_close_ int fd = -EBADF;
	int n_fds;
	char b;

	if (ic_sock_recv_fds(sock, &b, 1, &fd, 1, &n_fds, 0, NULL) != 1 || n_fds < 1)
		return -1;
	return TAKE_FD(fd);
}

/* Answers one notification with val 0; a target that went away is no error. */
static void answer(int fd)
{
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;

	memset(&req, 0, sizeof(req));
	if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
		return; /* ENOENT: the target went away */
	resp = (struct seccomp_notif_resp){.id = req.id};
	(void)ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

struct epoll_agent {
	int ep;
};

static void *epoll_agent_thread(void *arg)
{
	struct epoll_agent *a = arg;
	struct epoll_event ev[64];

	for (;;) {
		int n = epoll_wait(a->ep, ev, ARRAY_SIZE(ev), -1);

		for (int i = 0; i < n; i++) {
			if (ev[i].events & EPOLLIN)
				answer(ev[i].data.fd);
			else if (ev[i].events & (EPOLLHUP | EPOLLERR))
				epoll_ctl(a->ep, EPOLL_CTL_DEL, ev[i].data.fd, NULL);
		}
	}
	return NULL;
}

/* The agent process: takes n listeners, answers until the driver kills it. */
static _Noreturn void agent_main(int sock, int n, int threads, int cpu, pid_t driver)
{
	struct epoll_agent *a = calloc((size_t)(threads ? threads : 1), sizeof(*a));

	if (!a || ic_bench_die_with(driver) < 0)
		_exit(1);
	if (!threads) {
		int fd;

		ic_bench_pin(cpu);
		fd = recv_fd(sock);
		if (fd < 0)
			_exit(1);
		(void)ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
		for (;;)
			answer(fd); /* blocking RECV: the kernel's floor */
	}
	for (int t = 0; t < threads; t++) {
		a[t].ep = epoll_create1(EPOLL_CLOEXEC);
		if (a[t].ep < 0)
			_exit(1);
	}
	for (int i = 0; i < n; i++) {
		struct epoll_event ev = {.events = EPOLLIN};
		int fd = recv_fd(sock);

		if (fd < 0)
			_exit(1);
		(void)ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
		ev.data.fd = fd;
		if (epoll_ctl(a[i % threads].ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			_exit(1);
	}
	for (int t = 1; t < threads; t++) {
		pthread_t th;

		if (pthread_create(&th, NULL, epoll_agent_thread, &a[t]) != 0)
			_exit(1);
	}
	epoll_agent_thread(&a[0]);
	_exit(0);
}

pid_t ic_bench_agent_start(int sock, int n, int threads, int cpu, pid_t driver,
			   const int *close_fds, size_t n_close)
{
	pid_t pid = ic_bench_fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		for (size_t i = 0; i < n_close; i++)
			close(close_fds[i]);
		agent_main(sock, n, threads, cpu, driver);
	}
	return pid;
}
