/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <seccomp.h>
#include <sys/file.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/oci.h"
#include "common/proc.h"
#include "common/sock.h"
#include "tests/harness.h"

const char *ic_test_bin(const char *name)
{
	/* A few rotating buffers: one format call may name several programs. */
	static __thread char paths[8][512];
	static __thread unsigned next;
	char *path = paths[next++ % 8];

	snprintf(path, sizeof(paths[0]), "%s/%s", IC_TOP_BUILDDIR, name);
	return path;
}

void ic_test_exclusive(void)
{
	static int fd = -1; /* each test runs in a process of its own, which ends with it */
	const char *path = ic_test_bin("tests/machine.lock");

	if (fd >= 0)
		return;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
	/* Well inside the suites' 240-300 s test timeouts, and more than the other such tests
	 * take together. */
	for (int waited_ms = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; waited_ms += 100) {
		cr_assert(errno == EWOULDBLOCK && waited_ms < 150000, "%s: %s after %d ms", path,
			  strerror(errno), waited_ms);
		usleep(100000);
	}
}

static void write_conf(struct ic_test_daemon *d, const char *server_extra, const char *sections)
{
	char tmp[160];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", d->conf);
	f = fopen(tmp, "we");
	cr_assert(f, "cannot write %s", tmp);
	fprintf(f,
		"[server]\noci.socket = %s\ncontrol.socket = %s\nlxc.socket = %s/lxc.sock\n"
		"log.level = debug\n%s\n%s\n",
		d->oci, d->ctl, d->dir, server_extra ? server_extra : "",
		sections ? sections
			 : "[policy default]\nsecurity.syscalls.intercept.sysinfo = true\n");
	fclose(f);
	/* Atomic: a reload never sees half a file. */
	cr_assert(rename(tmp, d->conf) == 0);
}

void ic_test_daemon_rewrite(struct ic_test_daemon *d, const char *server_extra,
			    const char *sections)
{
	write_conf(d, server_extra, sections);
}

int ic_test_daemon_stderr = -1;

void ic_test_daemon_start(struct ic_test_daemon *d, const char *server_extra, const char *sections)
{
	char out[4096];

	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/ic-test.XXXXXX");
	cr_assert(mkdtemp(d->dir), "mkdtemp: %s", strerror(errno));
	snprintf(d->conf, sizeof(d->conf), "%s/interceptd.conf", d->dir);
	snprintf(d->oci, sizeof(d->oci), "%s/oci.sock", d->dir);
	snprintf(d->ctl, sizeof(d->ctl), "%s/control.sock", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/interceptd.log", d->dir);
	write_conf(d, server_extra, sections);

	d->pid = fork();
	cr_assert(d->pid >= 0);
	if (d->pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (fd < 0 || dup2(fd, 1) < 0 ||
		    dup2(ic_test_daemon_stderr >= 0 ? ic_test_daemon_stderr : fd, 2) < 0)
			_exit(126);
		/* IC_TEST_INTERCEPTD runs these tests against another build of the daemon, e.g. a
		 * ThreadSanitizer one (Criterion itself cannot run under TSan). */
		execl(getenv("IC_TEST_INTERCEPTD") ?: ic_test_bin("interceptd"), "interceptd", "-c",
		      d->conf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		if (access(d->oci, F_OK) == 0 && ic_test_ctl(d, out, sizeof(out), "status") == 0)
			return;
		if (waitpid(d->pid, NULL, WNOHANG) == d->pid) {
			d->pid = 0;
			cr_assert_fail("interceptd exited at start; log %s", d->log);
		}
		usleep(50000);
	}
	cr_assert_fail("interceptd did not come up within 5 s");
}

int ic_test_daemon_stop(struct ic_test_daemon *d)
{
	int status = -1;
	char cmd[128];

	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		for (int i = 0; i < 200; i++) {
			if (waitpid(d->pid, &status, WNOHANG) == d->pid)
				break;
			if (i == 199) {
				kill(d->pid, SIGKILL);
				waitpid(d->pid, &status, 0);
			}
			usleep(50000);
		}
		d->pid = 0;
	}
	/* A sanitizer build reports into the daemon's log: any report fails the test. */
	cr_expect(!ic_test_log_has(d, "Sanitizer") && !ic_test_log_has(d, "runtime error:"),
		  "sanitizer report in %s", d->log);
	if (getenv("IC_TEST_KEEP") || ic_test_log_has(d, "Sanitizer")) {
		fprintf(stderr, "kept %s\n", d->dir);
	} else if (d->dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", d->dir);
	}
	return status;
}

pid_t ic_test_sh_start(const char *cmd)
{
	pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

int ic_test_sh(char *out, size_t outlen, int timeout_s, const char *fmt, ...)
{
	char cmd[8192];
	int pipefd[2], status;
	size_t len = 0;
	struct timespec t0, t;
	va_list ap;
	pid_t pid;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	cr_assert(pipe2(pipefd, O_CLOEXEC) == 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		setpgid(0, 0);
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	close(pipefd[1]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= timeout_s) {
			kill(-pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(pipefd[0]);
			if (out && outlen)
				out[len < outlen ? len : outlen - 1] = 0;
			return -1;
		}
		if (poll(&p, 1, 200) <= 0)
			continue;
		if (out && len + 1 < outlen)
			n = read(pipefd[0], out + len, outlen - 1 - len);
		else {
			char sink[4096];

			n = read(pipefd[0], sink, sizeof(sink));
		}
		if (n <= 0)
			break;
		if (out && len + 1 < outlen)
			len += (size_t)n;
	}
	close(pipefd[0]);
	if (out && outlen)
		out[len] = 0;
	/* The output closed; the process follows within the remaining time. */
	for (;;) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= timeout_s) {
			kill(-pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return -1;
		}
		usleep(10000);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int ic_test_ctl(struct ic_test_daemon *d, char *out, size_t outlen, const char *cmd)
{
	return ic_test_sh(out, outlen, 15, "%s -s %s %s", ic_test_bin("interceptctl"), d->ctl, cmd);
}

long long ic_test_kv(const char *text, const char *key)
{
	size_t kl = strlen(key);

	for (const char *p = text; (p = strstr(p, key)); p++)
		if ((p == text || p[-1] == '\n' || p[-1] == ' ') && p[kl] == '=')
			return strtoll(p + kl + 1, NULL, 10);
	return -1;
}

long long ic_test_stat(struct ic_test_daemon *d, const char *path)
{
	static char out[1 << 16];
	struct json_object *o, *v;
	char buf[128], *save = NULL;
	long long r = -1;

	if (ic_test_ctl(d, out, sizeof(out), "stats --json") != 0)
		return -1;
	o = json_tokener_parse(out);
	if (!o)
		return -1;
	snprintf(buf, sizeof(buf), "%s", path);
	v = o;
	for (char *k = strtok_r(buf, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
		if (!json_object_object_get_ex(v, k, &v))
			v = NULL;
	if (v)
		r = json_object_get_int64(v);
	json_object_put(o);
	return r;
}

bool ic_test_stat_reaches(struct ic_test_daemon *d, const char *path, long long want,
			  int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 50) {
		if (ic_test_stat(d, path) >= want)
			return true;
		usleep(50000);
	}
	return false;
}

/* Each line of d's log (with its newline) to fn, until fn returns false. */
static void log_lines(struct ic_test_daemon *d, bool (*fn)(const char *line, size_t n, void *data),
		      void *data)
{
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	FILE *f = fopen(d->log, "re");

	while (f && (n = getline(&buf, &len, f)) > 0 && fn(buf, (size_t)n, data))
		;
	free(buf);
	if (f)
		fclose(f);
}

struct log_find {
	const char *s;
	bool found;
};

static bool find_line(const char *line, size_t n, void *data)
{
	struct log_find *lf = data;

	(void)n;
	lf->found = strstr(line, lf->s) != NULL;
	return !lf->found;
}

bool ic_test_log_has(struct ic_test_daemon *d, const char *s)
{
	struct log_find lf = {.s = s};

	log_lines(d, find_line, &lf);
	return lf.found;
}

struct log_tail {
	char *out;
	size_t outlen, used;
};

/* Keeps the last warning, error and failure-answer lines that fit: the oldest go first. */
static bool keep_trouble(const char *line, size_t n, void *data)
{
	struct log_tail *t = data;

	if (n + 1 > t->outlen || (!strstr(line, " warn ") && !strstr(line, " error ") &&
				  !strstr(line, "the failure answer")))
		return true;
	while (t->used + n + 1 > t->outlen && t->used > 0) {
		char *nl = strchr(t->out, '\n');
		size_t drop = nl ? (size_t)(nl - t->out) + 1 : t->used;

		memmove(t->out, t->out + drop, t->used - drop + 1);
		t->used -= drop;
	}
	memcpy(t->out + t->used, line, n + 1);
	t->used += n;
	return true;
}

const char *ic_test_log_warnings(struct ic_test_daemon *d, char *out, size_t outlen)
{
	struct log_tail t = {.out = out, .outlen = outlen};

	if (outlen == 0)
		return out;
	out[0] = '\0';
	log_lines(d, keep_trouble, &t);
	return out;
}

bool ic_test_log_wait(struct ic_test_daemon *d, const char *s, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 50) {
		if (ic_test_log_has(d, s))
			return true;
		usleep(50000);
	}
	return false;
}

pid_t ic_test_server_pid(struct ic_test_daemon *d)
{
	char out[4096];
	struct json_object *o, *v;
	pid_t pid = 0;

	cr_assert_eq(ic_test_ctl(d, out, sizeof(out), "status --json"), 0, "%s", out);
	o = json_tokener_parse(out);
	if (o && json_object_object_get_ex(o, "pid", &v))
		pid = (pid_t)json_object_get_int(v);
	json_object_put(o);
	cr_assert_gt(pid, 0, "%s", out);
	return pid;
}

pid_t ic_test_server_replaced(struct ic_test_daemon *d, pid_t old, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 10) {
		char buf[4096];
		struct json_object *o, *v;
		pid_t pid = 0;

		if (ic_test_ctl(d, buf, sizeof(buf), "status --json") == 0) {
			o = json_tokener_parse(buf);
			if (o && json_object_object_get_ex(o, "pid", &v))
				pid = (pid_t)json_object_get_int(v);
			json_object_put(o);
			if (pid > 0 && pid != old)
				return pid;
		}
		usleep(10000);
	}
	return 0;
}

void ic_test_expect_served(struct ic_test_daemon *d)
{
	static char out[8192];
	int r = ic_test_sh(out, sizeof(out), 60, "%s -c %s -s %s --memory 64M -- %s",
			   ic_test_bin("intercept-run"), d->conf, d->oci,
			   ic_test_bin("tests/sysinfo-probe"));

	cr_assert_eq(r, 0, "%s", out);
	cr_expect_eq(ic_test_kv(out, "totalram"), 64LL << 20, "%s", out);
}

pid_t ic_test_upgrades(struct ic_test_daemon *d, int n, unsigned pause_us)
{
	static char out[4096];
	pid_t server = ic_test_server_pid(d);

	for (int k = 0; k < n; k++) {
		usleep(pause_us);
		if (k % 2)
			cr_assert_eq(ic_test_ctl(d, out, sizeof(out), "upgrade"), 0, "%s", out);
		else
			cr_assert_eq(kill(d->pid, SIGUSR2), 0);
		server = ic_test_server_replaced(d, server, 5000);
		cr_assert_gt(server, 0, "no server after upgrade %d", k);
	}
	return server;
}

unsigned ic_test_serve_again_ms(unsigned bound_ms)
{
	const char *env = getenv("IC_TEST_SERVE_AGAIN_MS");
	unsigned long long v = env ? strtoull(env, NULL, 10) : 0;

	return v > bound_ms && v < UINT32_MAX ? (unsigned)v : bound_ms;
}

long long ic_test_call_bound_us(void)
{
	return 5000000LL + 1000LL * ic_test_serve_again_ms(1000);
}

pid_t ic_test_kill_servers(struct ic_test_daemon *d, int n, unsigned min_us, unsigned spread_us,
			   unsigned bound_ms)
{
	pid_t server = ic_test_server_pid(d);

	bound_ms = ic_test_serve_again_ms(bound_ms);

	srand((unsigned)getpid());
	for (int k = 0; k < n; k++) {
		uint64_t t0;
		pid_t next;

		usleep(min_us + (unsigned)rand() % (spread_us + 1));
		cr_assert_eq(kill(server, SIGKILL), 0);
		t0 = ic_now_ns();
		next = ic_test_server_replaced(d, server, 5000);
		cr_assert_gt(next, 0, "no server after kill %d", k);
		/* Served again within bound_ms of the kill (IC_TEST_SERVE_AGAIN_MS when more: a
		 * daemon built to be slow, TSan's, starts several times slower). */
		cr_expect_lt(ic_now_ns() - t0, bound_ms * 1000000ULL,
			     "kill %d: served again after %llu ms", k,
			     (unsigned long long)((ic_now_ns() - t0) / 1000000));
		server = next;
	}
	return server;
}

void ic_test_kill_then_upgrade(struct ic_test_daemon *d)
{
	char out[4096];
	pid_t server = ic_test_server_pid(d);

	cr_assert_eq(kill(server, SIGKILL), 0);
	server = ic_test_server_replaced(d, server, 3000);
	cr_assert_gt(server, 0, "no server after the kill");
	usleep(300000);
	cr_assert_eq(ic_test_ctl(d, out, sizeof(out), "upgrade"), 0, "%s", out);
	cr_assert_gt(ic_test_server_replaced(d, server, 5000), 0, "no server after the upgrade");
}

pid_t ic_test_thread_named(struct ic_test_daemon *d, const char *name)
{
	char path[512], comm[32];
	struct dirent *de;
	pid_t server = ic_test_server_pid(d);
	DIR *dir;
	pid_t tid = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)server);
	dir = opendir(path);
	cr_assert(dir);
	while (!tid && (de = readdir(dir))) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)server, de->d_name);
		f = fopen(path, "re");
		if (f && fgets(comm, sizeof(comm), f) && strncmp(comm, name, strlen(name)) == 0)
			tid = (pid_t)atoi(de->d_name);
		if (f)
			fclose(f);
	}
	closedir(dir);
	return tid;
}

pid_t ic_test_stop_worker(struct ic_test_daemon *d)
{
	pid_t worker = ic_test_thread_named(d, "ic-worker-0");
	int status;

	cr_assert_gt(worker, 0, "no worker thread");
	cr_assert_eq(ptrace(PTRACE_SEIZE, worker, 0, 0), 0, "PTRACE_SEIZE: %s", strerror(errno));
	cr_assert_eq(ptrace(PTRACE_INTERRUPT, worker, 0, 0), 0);
	cr_assert_eq(waitpid(worker, &status, __WALL), worker);
	return worker;
}

void ic_test_read_file(const char *path, char *out, size_t outlen)
{
	FILE *f = fopen(path, "re");

	cr_assert(f, "%s: %s", path, strerror(errno));
	out[fread(out, 1, outlen - 1, f)] = 0;
	fclose(f);
}

void ic_test_target_spawn_procs(struct ic_test_target *t, int calls, int procs)
{
	char buf[1];
	int sp[2], n_fds;

	cr_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
	t->pid = fork();
	cr_assert(t->pid >= 0);
	if (t->pid == 0) {
		scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
		struct sysinfo si;
		int fd, first_errno = 0, code;
		bool leader = true;
		pid_t others[64];
		char c;

		close(sp[0]);
		if (procs < 1 || procs > 64 || !ctx ||
		    seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(sysinfo), 0) < 0 ||
		    seccomp_load(ctx) < 0)
			_exit(10);
		fd = seccomp_notify_fd(ctx);
		if (fd < 0 || ic_sock_send_fds(sp[1], "L", 1, &fd, 1) < 0)
			_exit(11);
		close(fd);
		if (read(sp[1], &c, 1) != 1)
			_exit(12);
		/* The others inherit the filter: one container, several callers at once. */
		for (int i = 1; i < procs; i++) {
			others[i] = fork();
			if (others[i] < 0)
				_exit(13);
			if (others[i] == 0) {
				procs = 1;
				leader = false;
				break;
			}
		}
		for (int i = 0; i < calls; i++)
			if (sysinfo(&si) < 0 && !first_errno)
				first_errno = errno;
		for (int i = 1; i < procs; i++) {
			int status;

			if (waitpid(others[i], &status, 0) != others[i] || !WIFEXITED(status))
				_exit(14);
			if (!first_errno && WEXITSTATUS(status))
				_exit(WEXITSTATUS(status));
		}
		code = first_errno ? 100 + first_errno : 0;
		if (leader && c == 'h') {
			/* Report, then stay under the filter until the test lets go. */
			buf[0] = (char)code;
			if (write(sp[1], buf, 1) != 1)
				_exit(15);
			while (read(sp[1], buf, 1) > 0)
				;
		}
		_exit(code);
	}
	close(sp[1]);
	t->ctl = sp[0];
	cr_assert_eq(ic_sock_recv_fds(t->ctl, buf, 1, &t->listener, 1, &n_fds, 0, NULL), 1);
	cr_assert_geq(n_fds, 1);
}

void ic_test_target_spawn(struct ic_test_target *t, int calls)
{
	ic_test_target_spawn_procs(t, calls, 1);
}

void ic_test_target_register(struct ic_test_daemon *d, struct ic_test_target *t, const char *id)
{
	char *msg = ic_oci_format(id, t->pid, t->pid, "creating", NULL);
	int fd = ic_sock_connect(d->oci, SOCK_STREAM);

	cr_assert(msg);
	cr_assert_geq(fd, 0, "connect %s: %s", d->oci, strerror(-fd));
	cr_assert_eq(ic_sock_send_fds(fd, msg, strlen(msg), &t->listener, 1), 0);
	close(fd);
	free(msg);
	/* The daemon holds it now; ours would keep the filter's listener alive. */
	close(t->listener);
	t->listener = -1;
}

void ic_test_target_go(struct ic_test_target *t)
{
	cr_assert_eq(write(t->ctl, "g", 1), 1);
}

int ic_test_target_go_and_hold(struct ic_test_target *t, int timeout_ms)
{
	struct pollfd p = {.fd = t->ctl, .events = POLLIN};
	unsigned char code;

	cr_assert_eq(write(t->ctl, "h", 1), 1);
	if (poll(&p, 1, timeout_ms) != 1 || read(t->ctl, &code, 1) != 1)
		return -1;
	return code;
}

int ic_test_target_wait(struct ic_test_target *t)
{
	int status;

	pid_t r = 0;

	/* First: a held target waits for this. */
	close(t->ctl);
	/* Bounded: a call nobody answers must fail the test, not hang it. */
	for (int i = 0; i < 3000 && (r = waitpid(t->pid, &status, WNOHANG)) == 0; i++)
		usleep(10000);
	if (r == 0) {
		kill(t->pid, SIGKILL);
		r = waitpid(t->pid, &status, 0);
		cr_log_error("target %d still blocked after 30 s: killed", (int)t->pid);
	}
	cr_assert_eq(r, t->pid);
	if (t->listener >= 0)
		close(t->listener);
	t->listener = -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
