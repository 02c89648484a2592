/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "common/macros.h"
#include "common/proc.h"
#include "common/parse.h"
#include "common/sock.h"

/* interceptd as the harness runs it: on sockets in a directory of its own, with a policy that
 * intercepts the benchmarked syscalls, logging warnings only (an info line per node made
 * would be the log's cost, not ours). */

static int write_conf(const struct ic_bench_daemon *d, int acceptors, int workers)
{
	_cleanup_fclose_ FILE *f = fopen(d->conf, "we");
	char a[16] = "auto", w[16] = "auto";

	if (!f)
		return -errno;
	if (acceptors > 0)
		snprintf(a, sizeof(a), "%d", acceptors);
	if (workers > 0)
		snprintf(w, sizeof(w), "%d", workers);
	fprintf(f,
		"[server]\nacceptors = %s\nworkers = %s\noci.socket = %s\nlxc.socket = %s\n"
		"control.socket = %s\nlog.level = warn\n\n"
		"[policy default]\n"
		"security.syscalls.intercept.mknod = true\n"
		"security.syscalls.intercept.setxattr = true\n"
		"security.syscalls.intercept.sysinfo = true\n",
		a, w, d->oci, d->lxc, d->control);
	return fflush(f) == 0 ? 0 : -errno;
}

int ic_bench_daemon_start(struct ic_bench_daemon *d, const char *binary, const char *parent,
			  int acceptors, int workers)
{
	static int serial;
	pid_t pid, parent_pid = getpid();
	sigset_t block, old;
	long n;
	int q;

	*d = (struct ic_bench_daemon){0};
	snprintf(d->dir, sizeof(d->dir), "%s/daemon%d", parent, serial++);
	snprintf(d->oci, sizeof(d->oci), "%s/oci.sock", d->dir);
	snprintf(d->lxc, sizeof(d->lxc), "%s/lxc.sock", d->dir);
	snprintf(d->control, sizeof(d->control), "%s/control.sock", d->dir);
	snprintf(d->conf, sizeof(d->conf), "%s/interceptd.conf", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/interceptd.log", d->dir);
	snprintf(d->lock, sizeof(d->lock), "%s/control.sock.lock", d->dir); /* the keeper's */
	if (mkdir(d->dir, 0700) < 0)
		return -errno;
	q = write_conf(d, acceptors, workers);
	if (q < 0)
		return q;
	/* An interrupt waits until the group is known, so that it kills the group, not a keeper
	 * left to its parent-death SIGTERM. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	pid = ic_bench_fork();
	if (pid < 0) {
		q = -errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		return q;
	}
	if (pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		sigprocmask(SIG_SETMASK, &old, NULL);

		/* Drains and goes with us however we end; our stdout is the table's. A process
		 * group of its own: the keeper, its server and any server it starts again are
		 * killed at once, whenever we are interrupted. */
		if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0 ||
		    setpgid(0, 0) < 0 || prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 ||
		    getppid() != parent_pid)
			_exit(127);
		execl(binary, "interceptd", "-c", d->conf, (char *)NULL);
		fprintf(stderr, "intercept-bench: cannot run %s: %m\n", binary);
		_exit(127);
	}
	/* Both sides set it: whichever runs first, the group exists once fork returns here. */
	setpgid(pid, pid);
	d->pid = d->group = pid;
	sigprocmask(SIG_SETMASK, &old, NULL);
	for (uint64_t end = ic_now_ns() + 10 * 1000000000ULL; ic_now_ns() < end;) {
		pid_t p, k;

		/* The control socket listens before the OCI socket does: wait for both. */
		if (ic_bench_daemon_status(d->control, &p, &k, &n) == 0 &&
		    access(d->oci, F_OK) == 0)
			return 0;
		if (ic_bench_daemon_ended(d, NULL))
			break;
		ic_bench_sleep_ms(20);
	}
	fprintf(stderr, "intercept-bench: interceptd did not start\n");
	ic_bench_daemon_print_log(d);
	ic_bench_daemon_stop(d);
	return -EIO;
}

void ic_bench_daemon_print_log(const struct ic_bench_daemon *d)
{
	_cleanup_fclose_ FILE *f = fopen(d->log, "re");
	char lines[20][512];
	unsigned n = 0;

	while (f && fgets(lines[n % ARRAY_SIZE(lines)], sizeof(lines[0]), f))
		n++;
	fprintf(stderr, "--- the last lines of %s:\n", d->log);
	for (unsigned i = n > ARRAY_SIZE(lines) ? n - ARRAY_SIZE(lines) : 0; i < n; i++)
		fputs(lines[i % ARRAY_SIZE(lines)], stderr);
	fprintf(stderr, "---\n");
}

void ic_bench_daemon_remove(const struct ic_bench_daemon *d)
{
	const char *const files[] = {d->oci, d->lxc, d->control, d->conf, d->log, d->lock};

	if (!d->dir[0])
		return;
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		unlink(files[i]);
	rmdir(d->dir);
}

void ic_bench_daemon_kill(const struct ic_bench_daemon *d)
{
	if (d->group > 0)
		kill(-d->group, SIGKILL);
}

bool ic_bench_daemon_ended(const struct ic_bench_daemon *d, siginfo_t *si)
{
	siginfo_t mine;

	if (!si)
		si = &mine;
	si->si_pid = 0;
	return d->pid > 0 && waitid(P_PID, (id_t)d->pid, si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	       si->si_pid == d->pid;
}

void ic_bench_daemon_stop(struct ic_bench_daemon *d)
{
	if (d->pid > 0) {
		bool ended = false;

		kill(d->pid, SIGTERM);
		for (uint64_t end = ic_now_ns() + 10 * 1000000000ULL;
		     !(ended = ic_bench_daemon_ended(d, NULL)) && ic_now_ns() < end;)
			ic_bench_sleep_ms(20);
		if (!ended)
			kill(d->pid, SIGKILL);
	}
	/* A keeper that stops stops its server first; one that was killed or died did not. Not
	 * reaped yet, the keeper still holds its group's number: nobody else can have it. */
	ic_bench_daemon_kill(d);
	d->group = 0;
	if (d->pid > 0)
		waitpid(d->pid, NULL, 0);
	d->pid = 0;
	ic_bench_daemon_remove(d);
	d->dir[0] = '\0';
}

/* One request on the control socket: it answers a verdict digit ('0': done), then lines, each
 * given to fn (without its newline) as it arrives. -errno, or -EPROTO for a refusal or a line
 * longer than we read at once. */
static int control_lines(const char *control, const char *cmd, int timeout_ms,
			 void (*fn)(const char *line, size_t len, void *arg), void *arg)
{
	_cleanup_close_ int fd = ic_sock_connect(control, SOCK_STREAM);
	size_t have = 0;
	char buf[8192];
	bool first = true;

	if (fd < 0)
		return fd;
	if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
		return -errno;
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		char *line, *nl;
		ssize_t got;

		if (poll(&pfd, 1, timeout_ms) <= 0)
			return -ETIMEDOUT;
		got = read(fd, buf + have, sizeof(buf) - have);
		if (got < 0)
			return -errno;
		if (got == 0)
			return first ? -EPROTO : 0;
		if (first && buf[0] != '0')
			return -EPROTO;
		have += (size_t)got;
		line = buf + first; /* past the verdict digit */
		first = false;
		while ((nl = memchr(line, '\n', (size_t)(buf + have - line)))) {
			fn(line, (size_t)(nl - line), arg);
			line = nl + 1;
		}
		have = (size_t)(buf + have - line);
		if (have == sizeof(buf))
			return -EPROTO;
		memmove(buf, line, have);
	}
}

struct count {
	const char *prefix;
	long n;
};

static void count_line(const char *line, size_t len, void *arg)
{
	struct count *c = arg;
	size_t plen = strlen(c->prefix);

	c->n += len >= plen && !strncmp(line, c->prefix, plen);
}

int ic_bench_daemon_count(const char *control, const char *prefix, long *n)
{
	struct count c = {.prefix = prefix};
	int r = control_lines(control, "containers\n", 5000, count_line, &c);

	*n = c.n;
	return r;
}

struct status {
	uint64_t pid, keeper, containers;
	bool have_pid, have_containers;
};

/* "key   value" lines: the two we want. */
static void status_line(const char *line, size_t len, void *arg)
{
	struct status *st = arg;
	char text[64], key[16], num[32];

	if (len >= sizeof(text))
		return; /* not one of ours */
	memcpy(text, line, len);
	text[len] = '\0';
	if (sscanf(text, "%15s %31[0-9]", key, num) != 2)
		return;
	if (!strcmp(key, "pid"))
		st->have_pid = ic_parse_u64(num, 1, INT32_MAX, &st->pid) == 0;
	else if (!strcmp(key, "keeper_pid") && ic_parse_u64(num, 0, INT32_MAX, &st->keeper) < 0)
		st->keeper = 0;
	else if (!strcmp(key, "containers"))
		st->have_containers = ic_parse_u64(num, 0, INT64_MAX, &st->containers) == 0;
}

int ic_bench_daemon_status(const char *control, pid_t *pid, pid_t *keeper, long *containers)
{
	struct status st = {0};
	int r = control_lines(control, "status\n", 1000, status_line, &st);

	if (r < 0)
		return r;
	if (!st.have_pid || !st.have_containers)
		return -EPROTO;
	*pid = (pid_t)st.pid;
	*keeper = (pid_t)st.keeper;
	*containers = (long)st.containers;
	return 0;
}

long ic_bench_rss_kib(pid_t pid)
{
	_cleanup_fclose_ FILE *f = NULL;
	char path[64], line[256];
	long kib = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	return kib;
}
