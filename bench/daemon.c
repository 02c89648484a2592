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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "common/macros.h"
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
	long n;
	int q;

	*d = (struct ic_bench_daemon){0};
	snprintf(d->dir, sizeof(d->dir), "%s/daemon%d", parent, serial++);
	snprintf(d->oci, sizeof(d->oci), "%s/oci.sock", d->dir);
	snprintf(d->lxc, sizeof(d->lxc), "%s/lxc.sock", d->dir);
	snprintf(d->control, sizeof(d->control), "%s/control.sock", d->dir);
	snprintf(d->conf, sizeof(d->conf), "%s/interceptd.conf", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/interceptd.log", d->dir);
	if (mkdir(d->dir, 0700) < 0)
		return -errno;
	q = write_conf(d, acceptors, workers);
	if (q < 0)
		return q;
	pid = ic_bench_fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		/* Drains and goes with us however we end; our stdout is the table's. */
		if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0 ||
		    prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent_pid)
			_exit(127);
		execl(binary, "interceptd", "-c", d->conf, (char *)NULL);
		fprintf(stderr, "intercept-bench: cannot run %s: %m\n", binary);
		_exit(127);
	}
	d->pid = pid;
	for (uint64_t end = ic_bench_now_ns() + 10 * 1000000000ULL; ic_bench_now_ns() < end;) {
		pid_t p;

		if (ic_bench_daemon_status(d->control, &p, &n) == 0)
			return 0;
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			d->pid = 0;
			break;
		}
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
	const char *const files[] = {d->oci, d->lxc, d->control, d->conf, d->log};

	if (!d->dir[0])
		return;
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		unlink(files[i]);
	rmdir(d->dir);
}

void ic_bench_daemon_stop(struct ic_bench_daemon *d)
{
	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		for (uint64_t end = ic_bench_now_ns() + 10 * 1000000000ULL;
		     d->pid > 0 && ic_bench_now_ns() < end;) {
			if (waitpid(d->pid, NULL, WNOHANG) == d->pid)
				d->pid = 0;
			else
				ic_bench_sleep_ms(20);
		}
		if (d->pid > 0) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, NULL, 0);
			d->pid = 0;
		}
	}
	ic_bench_daemon_remove(d);
	d->dir[0] = '\0';
}

/* Lines of the control socket's "containers" answer whose id starts with prefix. */
int ic_bench_daemon_count(const char *control, const char *prefix, long *n)
{
	_cleanup_close_ int fd = ic_sock_connect(control, SOCK_STREAM);
	size_t plen = strlen(prefix), have = 0;
	char buf[8192];
	bool first = true;

	if (fd < 0)
		return fd;
	if (write(fd, "containers\n", 11) != 11)
		return -errno;
	*n = 0;
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		char *line, *nl;
		ssize_t got;

		if (poll(&pfd, 1, 5000) <= 0)
			return -ETIMEDOUT;
		got = read(fd, buf + have, sizeof(buf) - have);
		if (got < 0)
			return -errno;
		if (got == 0)
			return first ? -EPROTO : 0;
		if (first && buf[0] != '0')
			return -EPROTO;
		have += (size_t)got;
		line = buf + first; /* the verdict digit */
		first = false;
		while ((nl = memchr(line, '\n', (size_t)(buf + have - line)))) {
			*n += !strncmp(line, prefix, plen);
			line = nl + 1;
		}
		have = (size_t)(buf + have - line);
		if (have == sizeof(buf))
			return -EPROTO; /* no line is this long */
		memmove(buf, line, have);
	}
}

/* The value of "key   value" on a line of its own. */
static int status_value(const char *text, const char *key, uint64_t *v)
{
	size_t klen = strlen(key);
	char num[32];

	for (const char *p = text; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, key, klen) && p[klen] == ' ' &&
		    sscanf(p + klen, " %31[0-9]", num) == 1)
			return ic_parse_u64(num, 0, INT64_MAX, v);
	return -ENOENT;
}

/* The control socket answers a verdict digit, then "key  value" lines. */
int ic_bench_daemon_status(const char *control, pid_t *pid, long *containers)
{
	_cleanup_close_ int fd = ic_sock_connect(control, SOCK_STREAM);
	char buf[4096];
	size_t len = 0;
	uint64_t v;

	if (fd < 0)
		return fd;
	if (write(fd, "status\n", 7) != 7)
		return -errno;
	while (len < sizeof(buf) - 1) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&pfd, 1, 1000) <= 0)
			return -ETIMEDOUT;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (buf[0] != '0')
		return -EPROTO;
	if (status_value(buf, "pid", &v) < 0 || v > INT32_MAX)
		return -EPROTO;
	*pid = (pid_t)v;
	if (status_value(buf, "containers", &v) < 0)
		return -EPROTO;
	*containers = (long)v;
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
