/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cgroup.h"
#include "common/oci.h"
#include "common/sock.h"
#include "tests/harness.h"

/* Integration: the daemon's core against hostile peers, dying targets, reloads and SIGTERM. */

static struct ic_test_daemon d;
static char out[1 << 16];

static void teardown(void)
{
	ic_test_daemon_stop(&d);
}

TestSuite(daemon, .fini = teardown, .timeout = 120);

static void start(const char *server_extra)
{
	ic_test_daemon_start(&d, server_extra, NULL);
}

static int oci_connect(void)
{
	int fd = ic_sock_connect(d.oci, SOCK_STREAM);

	cr_assert_geq(fd, 0, "connect %s: %s", d.oci, strerror(-fd));
	return fd;
}

static void send_raw(const void *data, size_t len, const int *fds, int n_fds)
{
	int fd = oci_connect();

	cr_assert_eq(ic_sock_send_fds(fd, data, len, fds, n_fds), 0);
	close(fd);
}

Test(daemon, garbage_is_refused_and_others_are_served)
{
	start(NULL);
	send_raw("hello, world", 12, NULL, 0);
	cr_expect(ic_test_log_wait(&d, "oci: refused pid", 5000), "no refusal logged");
	ic_test_expect_served(&d);
}

Test(daemon, truncated_json_is_refused)
{
	static const char msg[] =
	    "{\"ociVersion\":\"1.0.2\",\"fds\":[\"seccompFd\"],\"pid\":1,\"state\":{\"id\":\"x";

	start(NULL);
	send_raw(msg, sizeof(msg) - 1, NULL, 0);
	cr_expect(ic_test_log_wait(&d, "truncated JSON", 5000));
	ic_test_expect_served(&d);
}

Test(daemon, ten_megabytes_are_refused)
{
	size_t len = 10 << 20;
	char *big = malloc(len);
	int fd;
	size_t sent = 0;

	cr_assert(big);
	memset(big, '[', len);
	start(NULL);
	fd = oci_connect();
	/* The daemon hangs up after 64 KiB; our sends then fail, which is the point. */
	while (sent < len) {
		ssize_t n = send(fd, big + sent, len - sent, MSG_NOSIGNAL);

		if (n <= 0)
			break;
		sent += (size_t)n;
	}
	close(fd);
	free(big);
	cr_expect(ic_test_log_wait(&d, "refused", 5000));
	ic_test_expect_served(&d);
}

Test(daemon, silent_peer_is_refused_after_a_timeout_and_blocks_nobody)
{
	int fd;

	start(NULL);
	fd = oci_connect();
	ic_test_expect_served(&d);
	cr_expect(ic_test_log_wait(&d, "silent for 5 s", 8000), "silent peer not dropped");
	close(fd);
}

Test(daemon, running_out_of_fds_pauses_accepting_and_recovers)
{
	int conns[64], r;

	start(NULL);
	r = ic_test_sh(out, sizeof(out), 10, "prlimit --pid %d --nofile=48:48",
		       (int)ic_test_server_pid(&d));
	cr_assert_eq(r, 0, "prlimit: %s", out);
	for (size_t i = 0; i < 64; i++)
		conns[i] = oci_connect();
	cr_expect(ic_test_log_wait(&d, "pausing new connections", 5000), "no EMFILE handling");
	for (size_t i = 0; i < 64; i++)
		close(conns[i]);
	/* Within the pause and the silent-peer timeout, it serves again. */
	usleep(1500000);
	ic_test_expect_served(&d);
}

/* Its exit code, or -1 when it is still running after timeout_ms (then it is killed). */
static int target_wait_bounded(struct ic_test_target *t, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 20) {
		siginfo_t si = {0};

		if (waitid(P_PID, (id_t)t->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
		    si.si_pid == t->pid)
			return ic_test_target_wait(t);
		usleep(20000);
	}
	kill(t->pid, SIGKILL);
	ic_test_target_wait(t);
	return -1;
}

Test(daemon, listener_sent_again_as_a_dup_is_refused_and_blocks_no_acceptor)
{
	struct ic_test_target twice, others[2];
	int copy;

	start("acceptors = 2\n");
	ic_test_target_spawn(&twice, 1);
	copy = dup(twice.listener);
	cr_assert_geq(copy, 0);
	ic_test_target_register(&d, &twice, "twice");
	cr_assert(ic_test_log_wait(&d, "container twice: new listener", 5000));
	/* The same filter's listener again: one acceptor each, were both served. */
	twice.listener = copy;
	ic_test_target_register(&d, &twice, "twice");
	cr_assert(ic_test_log_wait(&d, "container twice: another listener", 2000) ||
		  ic_test_log_has(&d, "container twice: this seccomp listener is already served"));
	/* One source more on each acceptor. */
	for (int i = 0; i < 2; i++) {
		char id[16], line[64];

		snprintf(id, sizeof(id), "other%d", i);
		snprintf(line, sizeof(line), "container %s: new listener", id);
		ic_test_target_spawn(&others[i], 1);
		ic_test_target_register(&d, &others[i], id);
		cr_assert(ic_test_log_wait(&d, line, 5000));
	}

	/* Answered by one acceptor; twice lives on, so a RECV on the other file would block. */
	cr_expect_eq(ic_test_target_go_and_hold(&twice, 5000), 0);
	for (int i = 0; i < 2; i++)
		ic_test_target_go(&others[i]);
	for (int i = 0; i < 2; i++)
		cr_expect_eq(target_wait_bounded(&others[i], 5000), 0,
			     "other%d is not served: its acceptor blocks in NOTIF_RECV", i);
	cr_expect_eq(ic_test_target_wait(&twice), 0);
	cr_expect(ic_test_log_has(&d, "container twice: this seccomp listener is already served"));
}

/* Every capability set of one task's status file must be within kept. */
static void expect_caps_within(const char *status_path, uint64_t kept)
{
	static const char *const sets[] = {"CapEff:", "CapPrm:", "CapBnd:", "CapInh:", "CapAmb:"};
	char status[4096];

	ic_test_read_file(status_path, status, sizeof(status));
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		const char *line = strstr(status, sets[i]);
		unsigned long long v;

		cr_assert(line && sscanf(line + strlen(sets[i]), "%llx", &v) == 1, "%s: no %s",
			  status_path, sets[i]);
		cr_expect_eq(v & ~kept, 0, "%s: %s %016llx has %016llx beyond what handlers need",
			     status_path, sets[i], v, v & ~kept);
	}
}

Test(daemon, every_thread_keeps_only_the_capabilities_handlers_need)
{
	const uint64_t kept = 1ULL << CAP_SYS_ADMIN | 1ULL << CAP_MKNOD | 1ULL << CAP_DAC_OVERRIDE |
			      1ULL << CAP_DAC_READ_SEARCH | 1ULL << CAP_FOWNER | 1ULL << CAP_CHOWN |
			      1ULL << CAP_FSETID | 1ULL << CAP_SETUID | 1ULL << CAP_SETGID |
			      1ULL << CAP_SYS_CHROOT | 1ULL << CAP_SYS_PTRACE |
			      1ULL << CAP_SYS_NICE | 1ULL << CAP_SYS_RESOURCE | 1ULL << CAP_KILL |
			      1ULL << CAP_BPF | 1ULL << CAP_PERFMON;
	char path[320];
	struct dirent *e;
	pid_t server;
	int threads = 0;
	DIR *dir;

	start(NULL);
	ic_test_expect_served(&d); /* every kind of thread has run */
	server = ic_test_server_pid(&d);
	cr_assert_gt(server, 0);
	snprintf(path, sizeof(path), "/proc/%d/task", (int)server);
	dir = opendir(path);
	cr_assert(dir, "%s: %s", path, strerror(errno));
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/status", (int)server, e->d_name);
		expect_caps_within(path, kept);
		threads++;
	}
	closedir(dir);
	cr_expect_gt(threads, 3, "acceptors, workers, front ends and control: %d threads", threads);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)d.pid);
	expect_caps_within(path, kept); /* the keeper */
}

/* Whether a process of ours without CAP_SYS_PTRACE in its effective set (the permitted set
 * kept: only dumpability is tested) may PTRACE_SEIZE pid: 1 yes, 0 no. */
static int seizable_without_cap_sys_ptrace(pid_t pid)
{
	pid_t child = fork();
	int status;

	cr_assert_geq(child, 0);
	if (child == 0) {
		struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
		struct __user_cap_data_struct c[2];

		if (syscall(SYS_capget, &h, c) < 0)
			_exit(2);
		c[CAP_SYS_PTRACE / 32].effective &= ~(1U << (CAP_SYS_PTRACE % 32));
		if (syscall(SYS_capset, &h, c) < 0)
			_exit(2);
		if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0)
			_exit(errno == EPERM ? 0 : 3);
		ptrace(PTRACE_DETACH, pid, 0, 0);
		_exit(1);
	}
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) <= 1, "status %d", status);
	return WEXITSTATUS(status);
}

Test(daemon, keeper_and_server_are_not_dumpable)
{
	pid_t server, dumpable;

	/* Non-dumpable: a crash writes no core (a worker may stand in a container's root), and
	 * a process of the same ids without CAP_SYS_PTRACE cannot attach. */
	start(NULL);
	ic_test_expect_served(&d);
	server = ic_test_server_pid(&d);
	cr_assert_gt(server, 0);
	cr_expect_eq(seizable_without_cap_sys_ptrace(d.pid), 0, "the keeper is dumpable");
	cr_expect_eq(seizable_without_cap_sys_ptrace(server), 0, "the server is dumpable");
	/* The check itself: a dumpable process of ours can be attached so. */
	dumpable = fork();
	cr_assert_geq(dumpable, 0);
	if (dumpable == 0) {
		pause();
		_exit(0);
	}
	cr_expect_eq(seizable_without_cap_sys_ptrace(dumpable), 1);
	kill(dumpable, SIGKILL);
	waitpid(dumpable, NULL, 0);
}

Test(daemon, out_of_fds_every_listener_is_served_or_refused_and_no_container_hangs)
{
	static struct ic_test_target t[100];
	int served = 0, refused = 0, r;
	uint64_t until;

	start(NULL);
	r = ic_test_sh(out, sizeof(out), 10, "prlimit --pid %d --nofile=64:64",
		       (int)ic_test_server_pid(&d));
	cr_assert_eq(r, 0, "prlimit: %s", out);
	for (int i = 0; i < 100; i++) {
		char id[16];

		snprintf(id, sizeof(id), "fd%d", i);
		ic_test_target_spawn(&t[i], 1);
		ic_test_target_register(&d, &t[i], id);
	}
	/* Each stays alive once answered, holding its listener: no fd comes back by itself. */
	for (int i = 0; i < 100; i++)
		cr_assert_eq(write(t[i].ctl, "h", 1), 1);
	until = (uint64_t)time(NULL) + 30;
	for (int i = 0; i < 100; i++) {
		int left = (int)((int64_t)until - (int64_t)time(NULL));
		struct pollfd p = {.fd = t[i].ctl, .events = POLLIN};
		unsigned char code = 255;

		if (poll(&p, 1, left > 0 ? left * 1000 : 0) == 1 && read(t[i].ctl, &code, 1) != 1)
			code = 255;
		served += code == 0;
		/* Its listener closed unserved: the kernel fails the call. */
		refused += code == 100 + ENOSYS;
	}
	for (int i = 0; i < 100; i++) {
		kill(t[i].pid, SIGKILL);
		ic_test_target_wait(&t[i]);
	}
	cr_expect_eq(served + refused, 100, "%d served, %d refused, %d hang or fail", served,
		     refused, 100 - served - refused);
	cr_expect_gt(served, 0);
	cr_expect(ic_test_log_has(&d, "out of file descriptors"), "no container refused visibly");
}

Test(daemon, message_without_fd_is_refused)
{
	char *msg = ic_oci_format("nofd", getpid(), getpid(), "creating", NULL);

	start(NULL);
	send_raw(msg, strlen(msg), NULL, 0);
	free(msg);
	cr_expect(ic_test_log_wait(&d, "fewer fds than named", 5000));
	ic_test_expect_served(&d);
}

Test(daemon, non_seccomp_fd_is_refused)
{
	char *msg = ic_oci_format("pipefd", getpid(), getpid(), "creating", NULL);
	int p[2];

	cr_assert(pipe(p) == 0);
	start(NULL);
	send_raw(msg, strlen(msg), &p[0], 1);
	free(msg);
	close(p[0]);
	close(p[1]);
	cr_expect(ic_test_log_wait(&d, "is not a seccomp listener", 5000));
	ic_test_expect_served(&d);
}

Test(daemon, unknown_policy_is_refused)
{
	int r;

	start(NULL);
	/* A policy missing from intercept-run's own config: it refuses before starting anything.
	 * (One the daemon has not loaded yet: test-sysinfo, test-runtimes.) */
	r = ic_test_sh(out, sizeof(out), 30, "%s -c %s -s %s -p nosuch -- true",
		       ic_test_bin("intercept-run"), d.conf, d.oci);
	cr_expect_neq(r, 0);
	cr_expect(strstr(out, "nosuch"), "%s", out);
}

/* A target with a sysinfo NOTIFY filter (one call), registered by hand over the OCI socket.
 * split: the JSON in two writes 200 ms apart, the fd with the first, as the OCI spec allows. */
static void target_spawn(struct ic_test_target *t, const char *id, bool split)
{
	size_t half;
	char *msg;
	int fd;

	ic_test_target_spawn(t, 1);
	if (!split) {
		ic_test_target_register(&d, t, id);
		return;
	}
	/* The message in two writes, the fd with the first. */
	msg = ic_oci_format(id, t->pid, t->pid, "creating", NULL);
	cr_assert(msg);
	fd = oci_connect();
	half = strlen(msg) / 2;
	cr_assert_eq(ic_sock_send_fds(fd, msg, half, &t->listener, 1), 0);
	usleep(200000);
	cr_assert_eq(send(fd, msg + half, strlen(msg) - half, MSG_NOSIGNAL),
		     (ssize_t)(strlen(msg) - half));
	close(fd);
	free(msg);
	close(t->listener);
	t->listener = -1;
}

Test(daemon, target_killed_while_its_request_waits_is_counted_as_dropped)
{
	struct ic_test_target t;
	pid_t worker;

	/* Every request through the queue, to the stopped worker. */
	start("workers = 1\nacceptors = 1\nacceptors.run_to_completion = false\n");
	/* The request is received and queued, then waits. */
	worker = ic_test_stop_worker(&d);

	target_spawn(&t, "doomed", false);
	ic_test_target_go(&t);
	cr_expect(ic_test_stat_reaches(&d, "received", 1, 5000), "request never received");
	kill(t.pid, SIGKILL);
	ic_test_target_wait(&t);

	cr_assert_eq(ptrace(PTRACE_DETACH, worker, 0, 0), 0);
	cr_expect(ic_test_stat_reaches(&d, "answers.dropped", 1, 5000),
		  "the dead target's request was not dropped");
	cr_expect_eq(ic_test_stat(&d, "answers.emulated"), 0);
	ic_test_expect_served(&d);
}

Test(daemon, request_past_its_deadline_gets_the_failure_answer_once)
{
	struct ic_test_target t;
	pid_t worker;
	int status;

	ic_test_daemon_start(&d,
			     "workers = 1\nacceptors = 1\nrequest.deadline_ms = 300\n"
			     "acceptors.run_to_completion = false\n",
			     "[policy default]\nsecurity.syscalls.intercept.sysinfo = true\n"
			     "failure.answer = EPERM\n");
	worker = ic_test_stop_worker(&d);
	target_spawn(&t, "late", false);
	ic_test_target_go(&t);
	/* Nobody can serve it: the sweeper answers EPERM once the 300 ms are up. */
	status = ic_test_target_wait(&t);
	cr_expect_eq(status, 100 + EPERM, "target exit %d", status);
	cr_expect(ic_test_stat_reaches(&d, "answers.failed", 1, 5000));
	cr_expect_eq(ic_test_stat(&d, "deadline_missed"), 1);
	cr_expect_eq(ic_test_stat(&d, "answers.failed"), 1);
	/* The worker comes back, finds it answered and lets it go: no second answer. A deadline
	 * a loaded machine can meet for what follows. */
	cr_assert_eq(ptrace(PTRACE_DETACH, worker, 0, 0), 0);
	ic_test_daemon_rewrite(&d,
			       "workers = 1\nacceptors = 1\nacceptors.run_to_completion = false\n",
			       "[policy default]\nsecurity.syscalls.intercept.sysinfo = true\n"
			       "failure.answer = EPERM\n");
	cr_assert_eq(ic_test_ctl(&d, out, sizeof(out), "reload"), 0, "%s", out);
	ic_test_expect_served(&d);
	cr_expect_eq(ic_test_stat(&d, "answers.failed"), 1);
	cr_expect_eq(ic_test_stat(&d, "answers.dropped"), 0);
}

Test(daemon, acceptor_answers_fast_requests_itself_when_its_queue_is_empty)
{
	/* The only worker is stopped: a sysinfo answered anyway was answered in place. */
	pid_t worker;

	start("workers = 1\nacceptors = 1\n");
	worker = ic_test_stop_worker(&d);
	ic_test_expect_served(&d);
	cr_assert_eq(ptrace(PTRACE_DETACH, worker, 0, 0), 0);
}

Test(daemon, container_at_its_inflight_cap_waits_and_others_are_not_held)
{
	char loop[1024];
	pid_t worker, pid;
	int status;

	ic_test_daemon_start(&d,
			     "workers = 1\nacceptors = 1\nacceptors.run_to_completion = false\n",
			     "[policy default]\nsecurity.syscalls.intercept.sysinfo = true\n"
			     "inflight.max = 2\n");
	worker = ic_test_stop_worker(&d);
	/* Eight processes of one container call sysinfo at once; the worker cannot answer. */
	snprintf(
	    loop, sizeof(loop),
	    "%s -c %s -s %s --memory 64M -- /bin/sh -c 'for i in 1 2 3 4 5 6 7 8; do %s & done; "
	    "wait' > %s/many.out 2>&1",
	    ic_test_bin("intercept-run"), d.conf, d.oci, ic_test_bin("tests/sysinfo-probe"), d.dir);
	pid = ic_test_sh_start(loop);
	cr_expect(ic_test_stat_reaches(&d, "received", 2, 5000));
	usleep(500000);
	cr_expect_eq(ic_test_stat(&d, "received"), 2, "the cap did not hold the container back");
	/* The worker answers; the container's listener listens again; everyone is served. */
	cr_assert_eq(ptrace(PTRACE_DETACH, worker, 0, 0), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
	cr_expect(ic_test_stat_reaches(&d, "answers.emulated", 8, 5000));
	cr_expect_eq(ic_test_stat(&d, "answers.failed"), 0);
}

/* The pids a stopped worker answers, in the order it answers them: it writes every sysinfo
 * answer with process_vm_writev(pid, ...), so its syscall-entry stops tell the order whatever
 * the timing. Lets the worker run, stop by stop, until n answers (bounded), then detaches. */
static int answered_pids(pid_t worker, pid_t *pids, int n)
{
	int got = 0, status;

	cr_assert_eq(ptrace(PTRACE_SETOPTIONS, worker, 0, PTRACE_O_TRACESYSGOOD), 0, "%s",
		     strerror(errno));
	for (int stops = 0; got < n && stops < 1000000; stops++) {
		struct __ptrace_syscall_info info;

		cr_assert_eq(ptrace(PTRACE_SYSCALL, worker, 0, 0), 0, "%s", strerror(errno));
		cr_assert_eq(waitpid(worker, &status, __WALL), worker);
		cr_assert(WIFSTOPPED(status), "worker status %d", status);
		if (WSTOPSIG(status) != (SIGTRAP | 0x80))
			continue;
		cr_assert_gt(ptrace(PTRACE_GET_SYSCALL_INFO, worker, sizeof(info), &info), 0);
		if (info.op == PTRACE_SYSCALL_INFO_ENTRY && info.entry.nr == SYS_process_vm_writev)
			pids[got++] = (pid_t)info.entry.args[0];
	}
	cr_assert_eq(ptrace(PTRACE_DETACH, worker, 0, 0), 0);
	return got;
}

/* Fairness (doc/design.md §4.3): the only worker held, one container queues a call from each of
 * 32 processes, then a quiet container queues one. Let go, the worker serves the quiet one in
 * the second turn, not behind the flood's 32. */
Test(daemon, a_quiet_container_is_served_in_the_first_turns_behind_a_flood)
{
	enum { FLOOD = 32 };
	struct ic_test_target flood, quiet;
	pid_t worker, pids[FLOOD + 1];
	int n, at = -1;

	start("workers = 1\nacceptors = 1\nacceptors.run_to_completion = false\n");
	worker = ic_test_stop_worker(&d);
	ic_test_target_spawn_procs(&flood, 1, FLOOD);
	ic_test_target_register(&d, &flood, "flood");
	ic_test_target_spawn(&quiet, 1);
	ic_test_target_register(&d, &quiet, "quiet");
	ic_test_target_go(&flood);
	cr_assert(ic_test_stat_reaches(&d, "received", FLOOD, 10000), "the flood was not queued");
	ic_test_target_go(&quiet);
	cr_assert(ic_test_stat_reaches(&d, "received", FLOOD + 1, 10000), "quiet was not queued");

	n = answered_pids(worker, pids, FLOOD + 1);
	cr_assert_eq(n, FLOOD + 1, "the worker answered %d of %d", n, FLOOD + 1);
	for (int i = 0; i < n; i++)
		if (pids[i] == quiet.pid)
			at = i;
	cr_expect(at >= 0 && at <= 1, "the quiet container was answered at position %d of %d",
		  at + 1, n);
	cr_expect_eq(ic_test_target_wait(&flood), 0);
	cr_expect_eq(ic_test_target_wait(&quiet), 0);
}

/* A container of two processes under one filter, registered as id: on go, each makes one
 * sysinfo call at the same time. */
static void pair_spawn(struct ic_test_target *t, const char *id)
{
	ic_test_target_spawn_procs(t, 1, 2);
	ic_test_target_register(&d, t, id);
}

Test(daemon, inflight_cap_holds_for_more_containers_than_ever_fit_a_fixed_list)
{
	/* One acceptor serves them all; 300 containers at their cap of one request exceed the
	 * 256 paused sources an acceptor once had room for. */
	enum { N = 300 };
	struct ic_test_target t[N];
	pid_t worker;
	char id[32];

	ic_test_daemon_start(&d,
			     "workers = 1\nacceptors = 1\nacceptors.run_to_completion = false\n"
			     "request.deadline_ms = 20000\n",
			     "[policy default]\nsecurity.syscalls.intercept.sysinfo = true\n"
			     "inflight.max = 1\n");
	worker = ic_test_stop_worker(&d);
	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "capped-%d", i);
		pair_spawn(&t[i], id);
	}
	for (int i = 0; i < N; i++)
		ic_test_target_go(&t[i]);
	cr_expect(ic_test_stat_reaches(&d, "received", N, 10000));
	usleep(500000);
	/* Each container's second call must wait in its own listener. */
	cr_expect_eq(ic_test_stat(&d, "received"), N, "a container went past its cap");
	cr_assert_eq(ptrace(PTRACE_DETACH, worker, 0, 0), 0);
	for (int i = 0; i < N; i++)
		cr_expect_eq(ic_test_target_wait(&t[i]), 0, "container %d", i);
	cr_expect(ic_test_stat_reaches(&d, "answers.emulated", 2 * N, 10000));
	cr_expect_eq(ic_test_stat(&d, "answers.failed"), 0);
}

Test(daemon, a_container_without_its_policy_is_logged_once_not_per_call)
{
	struct ic_test_target t;
	char *msg;
	int fd;

	start(NULL);
	ic_test_target_spawn(&t, 1000);
	msg = ic_oci_format("no-policy", t.pid, t.pid, "creating", "policy=not-loaded");
	cr_assert(msg);
	fd = oci_connect();
	cr_assert_eq(ic_sock_send_fds(fd, msg, strlen(msg), &t.listener, 1), 0);
	close(fd);
	free(msg);
	close(t.listener);
	t.listener = -1;
	cr_assert(ic_test_log_wait(&d, "container no-policy: new listener", 5000));
	ic_test_target_go(&t);
	cr_expect_eq(ic_test_target_wait(&t), 0, "the kernel's answers failed");
	cr_expect(ic_test_stat_reaches(&d, "answers.continued", 1000, 5000));
	ic_test_read_file(d.log, out, sizeof(out));
	{
		int n = 0;

		for (char *p = out; (p = strstr(p, "container no-policy: policy 'not-loaded'"));
		     p++)
			n++;
		cr_expect_eq(n, 1, "logged %d times", n);
	}
}

Test(daemon, a_log_reader_that_stops_reading_never_stops_service)
{
	char buf[65536];
	bool told = false;
	int p[2];

	/* The daemon's stderr is a pipe that nobody reads, as a stuck journald would be. */
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	ic_test_daemon_stderr = p[1];
	start("log.ratelimit.burst = 0\n");
	ic_test_daemon_stderr = -1;
	close(p[1]);
	/* Each refused connection logs a line: far more than the pipe holds (in batches, under
	 * the front end's limit of pending connections). */
	for (int i = 0; i < 2000; i++) {
		send_raw("x", 1, NULL, 0);
		if (i % 100 == 99)
			usleep(50000);
	}
	/* A new container is still registered and served. */
	ic_test_expect_served(&d);
	/* The reader comes back: the next line says how many were lost. */
	cr_assert_eq(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	while (read(p[0], buf, sizeof(buf)) > 0)
		;
	for (int i = 0; i < 100 && !told; i++) {
		ssize_t n;

		send_raw("y", 1, NULL, 0);
		usleep(20000);
		while ((n = read(p[0], buf, sizeof(buf) - 1)) > 0) {
			buf[n] = 0;
			told = told || strstr(buf, "log lines dropped");
		}
	}
	cr_expect(told, "no word of the lines lost");
	close(p[0]);
}

Test(daemon, json_split_over_several_writes_is_accepted)
{
	struct ic_test_target t;
	int status;

	start(NULL);
	target_spawn(&t, "split", true);
	ic_test_target_go(&t);
	status = ic_test_target_wait(&t);
	cr_expect_eq(status, 0, "target exit %d", status);
	cr_expect(ic_test_stat_reaches(&d, "answers.emulated", 1, 5000));
	cr_expect_eq(ic_test_stat(&d, "answers.emulated"), 1);
	cr_expect(ic_test_log_has(&d, "container split: new listener"));
}

Test(daemon, last_listener_hangup_removes_the_container)
{
	struct ic_test_target t;
	int status;

	start(NULL);
	target_spawn(&t, "shortlived", false);
	cr_expect(ic_test_log_wait(&d, "container shortlived: new listener", 5000));
	cr_expect_eq(ic_test_ctl(&d, out, sizeof(out), "status --json"), 0);
	cr_expect(strstr(out, "\"containers\":1") || strstr(out, "\"containers\": 1"), "%s", out);
	cr_assert_eq(write(t.ctl, "g", 1), 1);
	cr_assert_eq(waitpid(t.pid, &status, 0), t.pid);
	close(t.ctl);
	cr_expect(ic_test_log_wait(&d, "container shortlived: gone", 5000),
		  "container not removed");
	cr_expect_eq(ic_test_ctl(&d, out, sizeof(out), "containers --json"), 0);
	cr_expect(!strstr(out, "shortlived"), "%s", out);
}

Test(daemon, reload_changes_threads_without_failing_a_call)
{
	static const char *const steps[] = {
	    "workers = 4\n", "workers = 2\n", "workers = 4\nacceptors = 1\n",
	    "workers = 1\nacceptors = 2\n", "workers = 2\nacceptors = 2\n"};
	char loop[1024], path[256];
	pid_t pid;
	int status;

	start("workers = 2\nacceptors = 2\n");
	snprintf(loop, sizeof(loop),
		 "%s -c %s -s %s --memory 64M -- %s 0 4 %lld > %s/loop.out 2>&1",
		 ic_test_bin("intercept-run"), d.conf, d.oci, ic_test_bin("tests/sysinfo-loop"),
		 64LL << 20, d.dir);
	pid = ic_test_sh_start(loop);
	cr_expect(ic_test_stat_reaches(&d, "received", 100, 10000), "the loop never got going");
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		ic_test_daemon_rewrite(&d, steps[i], NULL);
		cr_expect_eq(ic_test_ctl(&d, out, sizeof(out), "reload"), 0, "%s", out);
		usleep(300000);
	}
	cr_expect_eq(ic_test_ctl(&d, out, sizeof(out), "status --json"), 0);
	cr_expect(strstr(out, "\"workers\":2") || strstr(out, "\"workers\": 2"), "%s", out);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	snprintf(path, sizeof(path), "%s/loop.out", d.dir);
	ic_test_read_file(path, out, sizeof(out));
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "loop failed: %s", out);
	cr_expect_gt(ic_test_kv(out, "calls"), 100, "%s", out);
	cr_expect_eq(ic_test_kv(out, "failures"), 0, "%s", out);
	cr_expect_eq(ic_test_stat(&d, "answers.failed"), 0);
	cr_expect_eq(ic_test_stat(&d, "answers.continued"), 0);
}

Test(daemon, reload_changes_a_policy_live)
{
	struct sysinfo host;
	int r;

	start(NULL);
	ic_test_expect_served(&d);
	/* sysinfo no longer intercepted: the kernel answers (host figures) for the same filter. */
	ic_test_daemon_rewrite(&d, NULL,
			       "[policy default]\nsecurity.syscalls.intercept.sysinfo = false\n"
			       "security.syscalls.intercept.mknod = true\n");
	cr_assert_eq(ic_test_ctl(&d, out, sizeof(out), "reload"), 0, "%s", out);
	/* intercept-run builds its filter from the new policy: mknod only, so sysinfo is native. */
	r = ic_test_sh(out, sizeof(out), 60, "%s -c %s -s %s --memory 64M -- %s",
		       ic_test_bin("intercept-run"), d.conf, d.oci,
		       ic_test_bin("tests/sysinfo-probe"));
	cr_assert_eq(r, 0, "%s", out);
	sysinfo(&host);
	cr_expect_eq(ic_test_kv(out, "totalram"), (long long)host.totalram, "%s", out);
}

Test(daemon, running_container_follows_a_policy_reload)
{
	char loop[1024], path[256];
	pid_t pid;
	int status;

	start(NULL);
	/* 3 s of sysinfo calls that must see 64 MiB until the reload, then the host's memory. */
	snprintf(loop, sizeof(loop), "%s -c %s -s %s --memory 64M -- %s 0 3 > %s/loop.out 2>&1",
		 ic_test_bin("intercept-run"), d.conf, d.oci, ic_test_bin("tests/sysinfo-loop"),
		 d.dir);
	pid = ic_test_sh_start(loop);
	cr_expect(ic_test_stat_reaches(&d, "answers.emulated", 50, 10000));
	ic_test_daemon_rewrite(&d, NULL,
			       "[policy default]\nsecurity.syscalls.intercept.sysinfo = false\n");
	cr_expect_eq(ic_test_ctl(&d, out, sizeof(out), "reload"), 0, "%s", out);
	cr_expect(ic_test_stat_reaches(&d, "answers.continued", 50, 10000),
		  "the running container's filter still notifies, the new policy continues");
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	snprintf(path, sizeof(path), "%s/loop.out", d.dir);
	ic_test_read_file(path, out, sizeof(out));
	cr_expect_eq(ic_test_kv(out, "failures"), 0, "%s", out);
}

Test(daemon, intercept_run_says_when_the_daemon_is_not_running)
{
	char conf[] = "/tmp/ic-run-XXXXXX";
	int fd = mkstemp(conf), r;

	cr_assert_geq(fd, 0);
	close(fd);
	r = ic_test_sh(out, sizeof(out), 30, "%s -c %s -s /nonexistent/oci.sock -- true",
		       ic_test_bin("intercept-run"), conf);
	unlink(conf);
	cr_expect_eq(r, 125, "%s", out);
	cr_expect(strstr(out, "/nonexistent/oci.sock") && strstr(out, "is interceptd running?"),
		  "%s", out);
}

Test(daemon, intercept_run_names_the_cgroup_it_cannot_make)
{
	char first[1024], id[32], seen[64];
	pid_t pid;
	int r, status;

	/* Unique on the host: cgroup names are global. */
	snprintf(id, sizeof(id), "twin-%d", (int)getpid());
	snprintf(seen, sizeof(seen), "container %s: new listener", id);
	start(NULL);
	/* A second container with a live one's id: its cgroup exists already. */
	snprintf(first, sizeof(first), "%s -c %s -s %s --id %s -- sleep 3",
		 ic_test_bin("intercept-run"), d.conf, d.oci, id);
	pid = ic_test_sh_start(first);
	cr_expect(ic_test_log_wait(&d, seen, 5000));
	r = ic_test_sh(out, sizeof(out), 30, "%s -c %s -s %s --id %s --memory 64M -- true",
		       ic_test_bin("intercept-run"), d.conf, d.oci, id);
	cr_expect_eq(r, 125, "%s", out);
	cr_expect(strstr(out, "interceptd/twin-"), "the error must name the cgroup: %s", out);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "first container: %d", status);
}

/* A pid nobody has any more: a child we reaped. */
static pid_t dead_pid(void)
{
	pid_t pid = fork();
	int status;

	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return pid;
}

#define RUN_CG_PATH 512

/* interceptd/NAME in every hierarchy intercept-run uses (memory, pids), into dirs[]. */
static int make_run_cgroups(pid_t pid, char dirs[][RUN_CG_PATH])
{
	int n = 0;

	for (int c = 0; c < _IC_CGROUP_CTL_MAX; c++) {
		bool v2;
		const char *mnt = ic_cgroup_mount(c, &v2);

		if (!mnt || (n && strncmp(dirs[0], mnt, strlen(mnt)) == 0))
			continue;
		snprintf(dirs[n], RUN_CG_PATH, "%s/interceptd", mnt);
		(void)mkdir(dirs[n], 0755);
		snprintf(dirs[n], RUN_CG_PATH, "%s/interceptd/run-%d", mnt, (int)pid);
		cr_assert_eq(mkdir(dirs[n], 0755), 0, "%s: %s", dirs[n], strerror(errno));
		n++;
	}
	return n;
}

static bool dir_exists(const char *dir)
{
	struct stat st;

	return stat(dir, &st) == 0;
}

/* A killed intercept-run (a test timing out) leaves its empty run-PID cgroup behind; the next
 * start removes it, and only what is stale: a live pid's cgroup and a busy one stay. */
Test(daemon, intercept_run_removes_stale_run_cgroups)
{
	char stale[_IC_CGROUP_CTL_MAX][RUN_CG_PATH], busy[_IC_CGROUP_CTL_MAX][RUN_CG_PATH];
	char live[_IC_CGROUP_CTL_MAX][RUN_CG_PATH], file[_IC_CGROUP_CTL_MAX * RUN_CG_PATH + 16],
	    val[32];
	int n, r, status;
	pid_t sleeper;
	FILE *f;

	if (ic_cgroup_init() < 0 || (!ic_cgroup_mount(IC_CGROUP_MEMORY, &(bool){false}) &&
				     !ic_cgroup_mount(IC_CGROUP_PIDS, &(bool){false})))
		cr_skip_test("no memory or pids cgroup hierarchy here");
	start(NULL);
	n = make_run_cgroups(dead_pid(), stale);
	cr_assert_gt(n, 0);
	make_run_cgroups(getpid(), live);
	make_run_cgroups(dead_pid(), busy);
	sleeper = fork();
	cr_assert_geq(sleeper, 0);
	if (sleeper == 0) {
		pause();
		_exit(0);
	}
	snprintf(val, sizeof(val), "%d", (int)sleeper);
	for (int i = 0; i < n; i++) {
		snprintf(file, sizeof(file), "%s/cgroup.procs", busy[i]);
		f = fopen(file, "w");
		cr_assert(f, "%s: %s", file, strerror(errno));
		cr_assert_gt(fputs(val, f), 0);
		cr_assert_eq(fclose(f), 0, "%s: %s", file, strerror(errno));
	}

	r = ic_test_sh(out, sizeof(out), 30, "%s -c %s -s %s -- true", ic_test_bin("intercept-run"),
		       d.conf, d.oci);
	cr_expect_eq(r, 0, "%s", out);
	for (int i = 0; i < n; i++) {
		cr_expect_not(dir_exists(stale[i]), "%s is stale and empty: it must go", stale[i]);
		cr_expect(dir_exists(live[i]), "%s belongs to a live pid", live[i]);
		cr_expect(dir_exists(busy[i]), "%s holds a task", busy[i]);
	}
	kill(sleeper, SIGKILL);
	cr_assert_eq(waitpid(sleeper, &status, 0), sleeper);
	for (int i = 0; i < n; i++) {
		(void)rmdir(stale[i]);
		(void)rmdir(live[i]);
		/* The killed task may keep its cgroup busy for a moment. */
		for (int t = 0; t < 100 && rmdir(busy[i]) < 0 && errno == EBUSY; t++)
			usleep(10000);
	}
}

Test(daemon, bad_reload_keeps_the_running_configuration)
{
	start("workers = 2\n");
	ic_test_daemon_rewrite(&d, "workers = lots\n", NULL);
	cr_expect_neq(ic_test_ctl(&d, out, sizeof(out), "reload"), 0);
	cr_expect(strstr(out, "workers"), "%s", out);
	cr_expect(strstr(out, "interceptd.conf:6"), "error must name file and line: %s", out);
	cr_expect_eq(ic_test_ctl(&d, out, sizeof(out), "status --json"), 0);
	cr_expect(strstr(out, "\"workers\":2") || strstr(out, "\"workers\": 2"), "%s", out);
	cr_expect(strstr(out, "\"reloads\":0") || strstr(out, "\"reloads\": 0"), "%s", out);
	/* intercept-run reads the file too: give it a valid one again, without reloading. */
	ic_test_daemon_rewrite(&d, "workers = 2\n", NULL);
	ic_test_expect_served(&d);
}

Test(daemon, sighup_reloads)
{
	start("workers = 1\n");
	ic_test_daemon_rewrite(&d, "workers = 3\n", NULL);
	kill(d.pid, SIGHUP);
	cr_expect(ic_test_log_wait(&d, "3 workers", 5000));
}

Test(daemon, sigterm_drains_and_exits_cleanly)
{
	int status;

	start(NULL);
	ic_test_expect_served(&d);
	status = ic_test_daemon_stop(&d);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
}

Test(daemon, control_socket_is_root_only)
{
	struct stat st;

	start(NULL);
	cr_assert_eq(stat(d.ctl, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(stat(d.oci, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0600);
}

Test(daemon, check_config_names_file_line_and_key)
{
	char path[] = "/tmp/ic-check-XXXXXX";
	int fd = mkstemp(path), r;

	cr_assert_geq(fd, 0);
	cr_assert(write(fd, "[server]\nworkers = 2\nbogus.key = 1\n", 35) == 35);
	close(fd);
	r = ic_test_sh(out, sizeof(out), 10, "%s --check-config -c %s", ic_test_bin("interceptd"),
		       path);
	unlink(path);
	cr_expect_neq(r, 0);
	cr_expect(strstr(out, ":3:") && strstr(out, "bogus.key"), "%s", out);
}

Test(daemon, interceptctl_reports_stats_and_containers)
{
	start(NULL);
	ic_test_expect_served(&d);
	cr_expect_eq(ic_test_ctl(&d, out, sizeof(out), "stats"), 0);
	cr_expect(strstr(out, "sysinfo") && strstr(out, "p99"), "%s", out);
	cr_expect_eq(ic_test_ctl(&d, out, sizeof(out), "containers --json"), 0);
	cr_expect(strstr(out, "["), "%s", out);
	cr_expect_eq(ic_test_ctl(&d, out, sizeof(out), "metrics"), 0);
	cr_expect(strstr(out, "interceptd_answers_total{kind=\"emulated\"}"), "%s", out);
	cr_expect_neq(ic_test_ctl(&d, out, sizeof(out), "frobnicate"), 0);
}
