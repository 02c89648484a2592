/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "bench/bench.h"
#include "common/macros.h"
#include "common/mem.h"
#include "common/notify.h"
#include "common/sock.h"

/* The minimal agents: what the kernel's round trip costs with nothing but RECV and SEND val 0
 * in between (val-0), or with only the work no honest answer can skip in between (same-work:
 * NOTIF_ID_VALID, then the answer struct written into the caller), so that interceptd's
 * figures have a floor to be held against. */

/* The same-work agents' answer: one struct sysinfo, taken once at start. Read-only after. */
static struct sysinfo answer_si;

static int recv_fd(int sock)
{
	_cleanup_close_ int fd = -EBADF;
	int n_fds;
	char b;

	if (ic_sock_recv_fds(sock, &b, 1, &fd, 1, &n_fds, 0, NULL) != 1 || n_fds < 1)
		return -1;
	return TAKE_FD(fd);
}

/* Answers one notification with val 0; a target that went away is no error. same_work: what
 * interceptd's sysinfo cannot avoid comes first (the id checked still valid, a full struct
 * sysinfo written to args[0], as the sysinfo handler does), and nothing else: no policy, no
 * container lookup, no computing of the figures. The node workloads have no answer struct:
 * for them it is the ID_VALID check alone. */
static void answer(int fd, bool same_work)
{
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;

	if (ic_notif_recv(fd, &req) < 0)
		return; /* ENOENT: the target went away */
	resp = (struct seccomp_notif_resp){.id = req.id};
	if (same_work) {
		if (ic_notif_id_valid(fd, req.id) < 0)
			return;
		if (req.data.nr == SYS_sysinfo && ic_mem_write((pid_t)req.pid, req.data.args[0],
							       &answer_si, sizeof(answer_si)) < 0)
			resp.error = -EFAULT;
	}
	(void)ic_notif_send(fd, &resp);
}

struct epoll_agent {
	int ep;
	bool same_work;
};

static void *epoll_agent_thread(void *arg)
{
	struct epoll_agent *a = arg;
	struct epoll_event ev[64];

	for (;;) {
		int n = epoll_wait(a->ep, ev, ARRAY_SIZE(ev), -1);

		for (int i = 0; i < n; i++) {
			if (ev[i].events & EPOLLIN)
				answer(ev[i].data.fd, a->same_work);
			else if (ev[i].events & (EPOLLHUP | EPOLLERR))
				epoll_ctl(a->ep, EPOLL_CTL_DEL, ev[i].data.fd, NULL);
		}
	}
	return NULL;
}

/* The agent process: takes n listeners, answers until the driver kills it. */
static _Noreturn void agent_main(int sock, int n, int threads, int cpu, bool same_work,
				 pid_t driver)
{
	struct epoll_agent *a = calloc((size_t)(threads ? threads : 1), sizeof(*a));

	if (!a || ic_bench_die_with(driver) < 0 || sysinfo(&answer_si) < 0)
		_exit(1);
	if (!threads) {
		int fd;

		ic_bench_pin(cpu);
		fd = recv_fd(sock);
		if (fd < 0)
			_exit(1);
		(void)ic_notif_set_sync_wakeup(fd);
		for (;;)
			answer(fd, same_work); /* blocking RECV: the kernel's floor */
	}
	for (int t = 0; t < threads; t++) {
		a[t].ep = epoll_create1(EPOLL_CLOEXEC);
		a[t].same_work = same_work;
		if (a[t].ep < 0)
			_exit(1);
	}
	for (int i = 0; i < n; i++) {
		struct epoll_event ev = {.events = EPOLLIN};
		int fd = recv_fd(sock);

		if (fd < 0)
			_exit(1);
		(void)ic_notif_set_sync_wakeup(fd);
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

pid_t ic_bench_agent_start(int sock, int n, int threads, int cpu, bool same_work, pid_t driver,
			   const int *close_fds, size_t n_close)
{
	pid_t pid = ic_bench_fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		for (size_t i = 0; i < n_close; i++)
			close(close_fds[i]);
		agent_main(sock, n, threads, cpu, same_work, driver);
	}
	return pid;
}
