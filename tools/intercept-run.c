/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cgroup-create.h"
#include "common/cgroup.h"
#include "common/conf.h"
#include "handlers/filter.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/oci.h"
#include "common/parse.h"
#include "common/sock.h"

#define PROG "intercept-run"
/* As in runc and podman: 125 our own failure, 127 the command could not be executed. */
#define EXIT_SETUP	 125
#define EXIT_EXEC	 127
#define ID_MAX		 64 /* the id is also the hostname: HOST_NAME_MAX */
#define USERNS_HOST_BASE 100000
#define USERNS_RANGE	 65536
#define PIDS_MAX	 4194304 /* PID_MAX_LIMIT */
#define SETUP_TIMEOUT_MS 10000
/* The command is pid 1 of its namespace, so the kernel drops SIGINT/SIGTERM it has no handler
 * for: after forwarding one, give it this long to exit on its own, then kill it. */
#define KILL_GRACE_MS	 5000
#define CHILD_STACK_SIZE (1 << 20)
#define SYNC_CGROUP	 'C' /* parent -> child: id maps written, cgroup joined */
#define SYNC_LISTENER	 'L' /* child -> parent: carries the listener */
#define SYNC_GO		 'G' /* parent -> child: the daemon has the listener, exec */

struct opts {
	const char *config;
	bool config_given;
	const char *socket;
	const char *policy;
	bool policy_given;
	char id[ID_MAX + 1];
	bool userns;
	uint64_t memory;
	uint64_t pids;
	const char *rootfs;
	const char *print;
	const char *base; /* --print oci --base FILE: merged into that profile */
	char **argv;
};

/* What the child needs; a copy of the parent's memory, so plain pointers are fine. */
struct child_args {
	const struct opts *o;
	const struct ic_policy *policy;
	int sync;	  /* the child's end of the socketpair */
	int close_fds[2]; /* the parent's end and the daemon connection */
	sigset_t mask;	  /* signal mask to restore before exec */
};

/* Everything the parent must undo on any exit path. */
struct run {
	pid_t pid;
	int pidfd;
	int sync;
	int conn;
	int listener;
	int sigfd;
	bool cgroup_made;
	struct ic_cgroup cg;
};

static void vfail(int err, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (err)
		fprintf(stderr, PROG ": %s: %s\n", msg, strerror(abs(err)));
	else
		fprintf(stderr, PROG ": %s\n", msg);
}

/* Says why and returns -errno (err 0: the message says it all, -EINVAL). */
static int fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(err, fmt, ap);
	va_end(ap);
	return -abs(err ? err : EINVAL);
}

/* Says why and returns the exit code of a failure of ours. */
static int die(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int die(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(err, fmt, ap);
	va_end(ap);
	return EXIT_SETUP;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [-c CONFIG] [-s SOCKET] [-p POLICY] [--id NAME] [--userns]\n"
		"                     [--memory BYTES] [--pids N] [--rootfs DIR] -- CMD [ARG...]\n"
		"       " PROG " --print oci|lxc [-c CONFIG] [-p POLICY] [-s SOCKET]\n"
		"       " PROG " --print oci --base PROFILE [-c CONFIG] [-p POLICY] [-s SOCKET]\n"
		"\n"
		"Runs CMD in new mount, pid, uts and ipc namespaces (and a user namespace\n"
		"mapping 0-65535 to 100000-165535 with --userns), in the cgroup\n"
		"interceptd/NAME, under the seccomp filter of POLICY whose listener is handed\n"
		"to interceptd at SOCKET.\n"
		"--print writes the runtime configuration for POLICY instead; with --base, a\n"
		"runtime's default seccomp profile (podman's /usr/share/containers/seccomp.json,\n"
		"Docker's, an OCI config's) with POLICY's rules merged in.\n"
		"\n"
		"  -c, --config FILE   configuration (default " IC_CONF_DEFAULT_PATH ")\n"
		"  -s, --socket PATH   interceptd socket (default: oci.socket; lxc.socket for\n"
		"                      --print lxc)\n"
		"  -p, --policy NAME   policy (default: default)\n"
		"      --id NAME       container id, cgroup name and hostname (default run-PID)\n"
		"      --userns        run in a new user namespace\n"
		"      --memory BYTES  memory limit (K, M, G, T suffixes)\n"
		"      --pids N        task limit\n"
		"      --rootfs DIR    pivot into DIR\n");
}

static bool id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > ID_MAX || s[0] == '.' || s[0] == '-')
		return false;
	for (const char *p = s; *p; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && *p != '_' && *p != '-' && *p != '.')
			return false;
	return true;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	enum { OPT_ID = 256, OPT_USERNS, OPT_MEMORY, OPT_PIDS, OPT_ROOTFS, OPT_PRINT, OPT_BASE };
	static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
						 {"socket", required_argument, NULL, 's'},
						 {"policy", required_argument, NULL, 'p'},
						 {"help", no_argument, NULL, 'h'},
						 {"version", no_argument, NULL, 'V'},
						 {"id", required_argument, NULL, OPT_ID},
						 {"userns", no_argument, NULL, OPT_USERNS},
						 {"memory", required_argument, NULL, OPT_MEMORY},
						 {"pids", required_argument, NULL, OPT_PIDS},
						 {"rootfs", required_argument, NULL, OPT_ROOTFS},
						 {"print", required_argument, NULL, OPT_PRINT},
						 {"base", required_argument, NULL, OPT_BASE},
						 {}};
	bool id_given = false, run_opts = false;
	int c, r;

	o->config = IC_CONF_DEFAULT_PATH;
	o->policy = "default";
	/* "+": stop at CMD, whose own options are not ours. */
	while ((c = getopt_long(argc, argv, "+c:s:p:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			o->config_given = true;
			break;
		case 's':
			o->socket = optarg;
			break;
		case 'p':
			o->policy = optarg;
			o->policy_given = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf(PROG " %s\n", PACKAGE_VERSION);
			exit(0);
		case OPT_ID:
			if (!id_ok(optarg))
				return fail(0,
					    "invalid --id '%s' (1-%d of A-Z a-z 0-9 _ - ., not "
					    "starting with . or -)",
					    optarg, ID_MAX);
			snprintf(o->id, sizeof(o->id), "%s", optarg);
			id_given = run_opts = true;
			break;
		case OPT_USERNS:
			o->userns = run_opts = true;
			break;
		case OPT_MEMORY:
			r = ic_parse_size(optarg, &o->memory);
			if (r == 0 && o->memory == 0)
				return fail(0, "--memory 0: leave it out for no limit");
			if (r < 0)
				return fail(r, "invalid --memory value '%s' (bytes; K M G T)",
					    optarg);
			run_opts = true;
			break;
		case OPT_PIDS:
			r = ic_parse_u64(optarg, 1, PIDS_MAX, &o->pids);
			if (r < 0)
				return fail(r, "invalid --pids value '%s' (1-%d)", optarg,
					    PIDS_MAX);
			run_opts = true;
			break;
		case OPT_ROOTFS:
			o->rootfs = optarg;
			run_opts = true;
			break;
		case OPT_PRINT:
			if (strcmp(optarg, "oci") && strcmp(optarg, "lxc"))
				return fail(0, "--print takes oci or lxc, not '%s'", optarg);
			o->print = optarg;
			break;
		case OPT_BASE:
			o->base = optarg;
			break;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	o->argv = argv + optind;
	if (o->print) {
		/* Operators also write "--print oci POLICY": accept the policy as an operand. */
		if (o->argv[0] && !o->policy_given && !o->argv[1]) {
			o->policy = o->argv[0];
			o->policy_given = true;
			o->argv++;
		}
		if (o->argv[0] || run_opts)
			return fail(0, "--print takes only -c, -s, -p and --base");
		if (o->base && strcmp(o->print, "oci") != 0)
			return fail(0, "--base merges OCI profiles: use it with --print oci");
		return 0;
	}
	if (o->base)
		return fail(0, "--base goes with --print oci");
	if (!o->argv[0]) {
		usage(stderr);
		return -EINVAL;
	}
	if (!id_given)
		snprintf(o->id, sizeof(o->id), IC_CGROUP_RUN_PREFIX "%d", (int)getpid());
	return 0;
}

static int write_proc(pid_t pid, const char *file, const char *text)
{
	char path[64];
	_cleanup_close_ int fd = -EBADF;
	size_t len = strlen(text);

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(errno, "cannot open %s", path);
	if (write(fd, text, len) != (ssize_t)len)
		return fail(errno ? errno : EIO, "cannot write '%.*s' to %s", (int)len - 1, text,
			    path);
	return 0;
}

/* --- child ------------------------------------------------------------------------------ */

static int sync_read(int fd, char want)
{
	char c;
	ssize_t n;

	do
		n = read(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* EOF: the parent gave up and says why itself. */
	if (n == 0 || c != want)
		return -EPIPE;
	return 0;
}

/* proc is mounted before the old root goes: in a user namespace the kernel allows a new proc
 * only while a fully visible one is still in the mount namespace. */
static int child_rootfs(const char *dir)
{
	struct stat st;

	if (mount(dir, dir, NULL, MS_BIND | MS_REC, NULL) < 0)
		return fail(errno, "cannot bind-mount %s onto itself", dir);
	if (chdir(dir) < 0)
		return fail(errno, "cannot enter %s", dir);
	if (stat("proc", &st) == 0 && S_ISDIR(st.st_mode) &&
	    mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return fail(errno, "cannot mount proc on %s/proc", dir);
	/* pivot_root(".", ".") stacks the old root on top of the new one; detaching "." then
	 * leaves the new root alone, without needing a put_old directory in the image. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return fail(errno, "cannot pivot_root into %s", dir);
	if (umount2(".", MNT_DETACH) < 0)
		return fail(errno, "cannot detach the old root");
	if (chdir("/") < 0)
		return fail(errno, "cannot enter the new root");
	return 0;
}

static int child_setup(struct child_args *a)
{
	const struct opts *o = a->o;
	void *ctx;
	int r, listener;

	r = sync_read(a->sync, SYNC_CGROUP);
	if (r < 0)
		return r;
	if (o->userns) {
		/* The parent mapped container 0 to USERNS_HOST_BASE; become it, with no host
		 * supplementary groups left over (they would show as nogroup). */
		if (setresgid(0, 0, 0) < 0)
			return fail(errno, "setresgid(0) in the user namespace");
		if (setgroups(0, NULL) < 0)
			return fail(errno, "setgroups in the user namespace");
		if (setresuid(0, 0, 0) < 0)
			return fail(errno, "setresuid(0) in the user namespace");
	}
	/* Set after the id change, which clears it; the parent's death then ends the container
	 * instead of leaving it running unseen. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return fail(errno, "prctl(PR_SET_PDEATHSIG)");

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return fail(errno, "cannot make / private");
	if (o->rootfs) {
		r = child_rootfs(o->rootfs);
		if (r < 0)
			return r;
	} else if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		return fail(errno, "cannot mount proc on /proc");
	}
	if (sethostname(o->id, strlen(o->id)) < 0)
		return fail(errno, "cannot set the hostname");

	ctx = ic_filter_build(a->policy);
	if (!ctx)
		return fail(errno, "cannot build the seccomp filter of policy '%s'",
			    a->policy->name);
	/* From here on a notified syscall blocks until interceptd has the listener: keep the
	 * stretch to exec short and free of them. */
	listener = ic_filter_load(ctx);
	ic_filter_free(ctx);
	if (listener < 0)
		return fail(listener, "cannot load the seccomp filter");
	r = ic_sock_send_fds(a->sync, (char[]){SYNC_LISTENER}, 1, &listener, 1);
	close(listener);
	if (r < 0)
		return fail(r, "cannot pass the listener to " PROG);
	return sync_read(a->sync, SYNC_GO);
}

static int child_main(void *arg)
{
	struct child_args *a = arg;
	const struct opts *o = a->o;

	for (size_t i = 0; i < ARRAY_SIZE(a->close_fds); i++)
		close(a->close_fds[i]);
	/* The parent ignores SIGPIPE; an ignored disposition would survive exec. */
	signal(SIGPIPE, SIG_DFL);
	if (child_setup(a) < 0)
		return EXIT_SETUP;
	close(a->sync);
	sigprocmask(SIG_SETMASK, &a->mask, NULL);
	execvp(o->argv[0], o->argv);
	fprintf(stderr, PROG ": cannot execute %s: %s\n", o->argv[0], strerror(errno));
	return EXIT_EXEC;
}

/* --- parent ----------------------------------------------------------------------------- */

static void close_clear(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -EBADF;
}

/* Any exit path: kill and reap a child we still own, then remove its cgroup. */
static void run_done(struct run *r)
{
	if (r->pid > 0) {
		kill(r->pid, SIGKILL);
		while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
			;
		r->pid = 0;
	}
	if (r->cgroup_made) {
		int q = ic_cgroup_destroy(&r->cg);

		if (q < 0)
			fail(q, "cannot remove cgroup %s", r->cg.memory ?: r->cg.pids);
		ic_cgroup_done(&r->cg);
		r->cgroup_made = false;
	}
	close_clear(&r->listener);
	close_clear(&r->conn);
	close_clear(&r->sync);
	close_clear(&r->pidfd);
	close_clear(&r->sigfd);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The child's only message: one byte and the listener. Bounded: a child stuck in setup is
 * reported, not waited for. */
static int recv_listener(struct run *r)
{
	struct pollfd pfd = {.fd = r->sync, .events = POLLIN};
	_cleanup_close_ int fd = -EBADF;
	int n, n_fds, msg_flags;
	ssize_t len;
	char byte;

	n = poll(&pfd, 1, SETUP_TIMEOUT_MS);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ETIMEDOUT;
	len = ic_sock_recv_fds(r->sync, &byte, 1, &fd, 1, &n_fds, 0, &msg_flags);
	if (len < 0)
		return (int)len;
	/* Nothing at all: the child exited during setup, having said why. */
	if (len == 0)
		return -ECHILD;
	if (byte != SYNC_LISTENER || n_fds < 1 || (msg_flags & MSG_CTRUNC))
		return -EPROTO;
	r->listener = TAKE_FD(fd);
	return 0;
}

/* The daemon's one line after a hand-off ("ok", "warning: ...", "refused: ..."), without its
 * newline; "" when it closed without one (a daemon older than the line). Bounded. */
static int read_verdict(int conn, char *buf, size_t len)
{
	int64_t end = now_ms() + SETUP_TIMEOUT_MS;
	size_t got = 0;

	while (got < len - 1) {
		struct pollfd pfd = {.fd = conn, .events = POLLIN};
		int64_t left = end - now_ms();
		ssize_t n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n <= 0)
			continue;
		n = read(conn, buf + got, len - 1 - got);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n == 0)
			break;
		if (n > 0)
			got += (size_t)n;
		if (memchr(buf, '\n', got))
			break;
	}
	buf[got] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return EXIT_SETUP;
}

/* Reaps the child when setup failed: its own exit code says the most (it printed why). */
static int reap_setup_failure(struct run *r, int err)
{
	int status;

	if (err != -ECHILD)
		return EXIT_SETUP;
	if (waitpid(r->pid, &status, 0) == r->pid) {
		r->pid = 0;
		return exit_code(status) ? exit_code(status) : EXIT_SETUP;
	}
	return EXIT_SETUP;
}

static int send_sync(int fd, char c)
{
	return send(fd, &c, 1, MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

/* Waits for the child, forwarding SIGINT/SIGTERM; returns its status as an exit code. */
static int wait_child(struct run *r)
{
	int64_t kill_at = -1;
	int status;

	for (;;) {
		struct pollfd p[2] = {{.fd = r->pidfd, .events = POLLIN},
				      {.fd = r->sigfd, .events = POLLIN}};
		int timeout = kill_at < 0 ? -1 : (int)IC_MAX(kill_at - now_ms(), 0);
		int n = poll(p, 2, timeout);

		if (n < 0 && errno != EINTR)
			return die(errno, "poll");
		if (n == 0 && kill_at >= 0) {
			kill(r->pid, SIGKILL);
			kill_at = -1;
			continue;
		}
		if (n > 0 && (p[1].revents & POLLIN)) {
			struct signalfd_siginfo si;

			if (read(r->sigfd, &si, sizeof(si)) == sizeof(si)) {
				/* A second request means now. */
				if (kill_at >= 0) {
					kill(r->pid, SIGKILL);
				} else {
					kill(r->pid, (int)si.ssi_signo);
					kill_at = now_ms() + KILL_GRACE_MS;
				}
			}
		}
		if (n > 0 && (p[0].revents & POLLIN))
			break;
	}
	while (waitpid(r->pid, &status, 0) < 0) {
		if (errno != EINTR)
			return die(errno, "waitpid");
	}
	r->pid = 0;
	return exit_code(status);
}

static int run(const struct opts *o, const struct ic_policy *policy)
{
	_cleanup_(run_done) struct run r = {.pid = 0,
					    .pidfd = -EBADF,
					    .sync = -EBADF,
					    .conn = -EBADF,
					    .listener = -EBADF,
					    .sigfd = -EBADF};
	struct timeval tv = {.tv_sec = SETUP_TIMEOUT_MS / 1000};
	struct child_args a = {.o = o, .policy = policy};
	char cgerr[IC_CGROUP_PATH_MAX + 256], meta[IC_POLICY_NAME_MAX + 8], map[64], verdict[512];
	_cleanup_free_ char *json = NULL;
	int sp[2], flags, q;
	sigset_t block;
	void *stack;
	pid_t pid;

	/* Connect first: without a daemon nothing is started and nothing is left behind. */
	q = ic_sock_connect(o->socket, SOCK_STREAM);
	if (q < 0)
		return die(0, "cannot connect to interceptd at %s: %s%s", o->socket, strerror(-q),
			   q == -ENOENT || q == -ECONNREFUSED ? " (is interceptd running?)" : "");
	r.conn = q;
	/* A wedged daemon must not hang us: the hand-off is bounded. */
	(void)setsockopt(r.conn, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

	/* Signals wait in a signalfd until the child runs; the child restores the mask. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &block, &a.mask) < 0)
		return die(errno, "sigprocmask");
	r.sigfd = signalfd(-1, &block, SFD_CLOEXEC);
	if (r.sigfd < 0)
		return die(errno, "signalfd");
	signal(SIGPIPE, SIG_IGN);

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return die(errno, "socketpair");
	r.sync = sp[0];
	a.sync = sp[1];
	a.close_fds[0] = sp[0];
	a.close_fds[1] = r.conn;

	stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED) {
		close(sp[1]);
		return die(errno, "cannot allocate the child's stack");
	}
	flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_PIDFD | SIGCHLD;
	if (o->userns)
		flags |= CLONE_NEWUSER;
	fflush(NULL);
	pid = clone(child_main, (char *)stack + CHILD_STACK_SIZE, flags, &a, &r.pidfd);
	q = -errno;
	/* Without CLONE_VM the child runs on its own copy of the stack. */
	munmap(stack, CHILD_STACK_SIZE);
	close(sp[1]);
	if (pid < 0)
		return die(q, "cannot create the container process");
	r.pid = pid;

	if (o->userns) {
		snprintf(map, sizeof(map), "0 %d %d\n", USERNS_HOST_BASE, USERNS_RANGE);
		if (write_proc(pid, "uid_map", map) < 0 || write_proc(pid, "gid_map", map) < 0)
			return EXIT_SETUP;
	}
	q = ic_cgroup_create(o->id, o->memory, o->pids, pid, &r.cg, cgerr, sizeof(cgerr));
	/* Where cgroups are read-only (inside another container) and no limit was asked for,
	 * the container stays in ours. */
	if (q == -EROFS && !o->memory && !o->pids)
		fprintf(stderr, PROG ": %s; the container stays in this cgroup\n", cgerr);
	else if (q < 0)
		return die(0, "%s", cgerr);
	else
		r.cgroup_made = true;
	q = send_sync(r.sync, SYNC_CGROUP);
	if (q < 0)
		return reap_setup_failure(&r, -ECHILD);

	q = recv_listener(&r);
	if (q == -ETIMEDOUT)
		return die(0, "the container process did not finish its setup within %d s",
			   SETUP_TIMEOUT_MS / 1000);
	if (q == -EPROTO)
		return die(0, "the container process sent no listener");
	if (q < 0)
		return reap_setup_failure(&r, q);

	snprintf(meta, sizeof(meta), "policy=%s", policy->name);
	json = ic_oci_format(o->id, pid, pid, "creating", o->policy_given ? meta : NULL);
	if (!json)
		return die(ENOMEM, "cannot format the container state");
	q = ic_sock_send_fds(r.conn, json, strlen(json), &r.listener, 1);
	if (q < 0)
		return die(q, "cannot hand the listener to interceptd at %s", o->socket);
	/* The daemon owns the listener now; our copies would only keep it alive. */
	close_clear(&r.listener);
	q = read_verdict(r.conn, verdict, sizeof(verdict));
	if (q < 0)
		return die(q, "no answer from interceptd at %s", o->socket);
	if (strncmp(verdict, "warning: unknown policy", 23) == 0)
		return die(0,
			   "interceptd at %s has not loaded policy '%s': run 'interceptctl "
			   "reload' after editing %s; nothing was started",
			   o->socket, policy->name, o->config);
	if (strncmp(verdict, "refused: ", 9) == 0)
		return die(0, "interceptd at %s refused the container: %s", o->socket, verdict + 9);
	close_clear(&r.conn);
	q = send_sync(r.sync, SYNC_GO);
	if (q < 0)
		return reap_setup_failure(&r, -ECHILD);
	close_clear(&r.sync);
	return wait_child(&r);
}

static void conf_freep(struct ic_conf **c)
{
	ic_conf_free(*c);
}

int main(int argc, char **argv)
{
	_cleanup_(conf_freep) struct ic_conf *conf = NULL;
	struct opts o = {};
	char err[IC_CONF_ERR_MAX];
	const struct ic_policy *policy;
	struct stat st;
	int r;

	/* Library code logs details at debug; the CLI speaks for itself. */
	ic_log_set_level(IC_LOG_WARN);
	if (parse_args(argc, argv, &o) < 0)
		return EXIT_SETUP;
	r = ic_conf_load(o.config, o.config_given, &conf, err);
	if (r < 0)
		return die(0, "%s", err);
	policy = ic_conf_policy(conf, o.policy);
	if (!policy)
		return die(0, "unknown policy '%s' in %s%s", o.policy, o.config,
			   access(o.config, F_OK) < 0 ? " (no such file: only 'default')" : "");

	if (o.print) {
		bool oci = strcmp(o.print, "oci") == 0;
		const char *sock = o.socket ? o.socket
				   : oci    ? conf->server.oci_socket
					    : conf->server.lxc_socket;

		if (o.base) {
			r = ic_filter_merge_oci(policy, sock, o.base, stdout, err, sizeof(err));
			if (r == -EINVAL)
				return die(0, "cannot merge into %s: %s", o.base, err);
			if (r < 0)
				return die(r, "cannot merge into %s", o.base);
			return 0;
		}
		r = oci ? ic_filter_print_oci(policy, sock, stdout)
			: ic_filter_print_lxc(policy, sock, stdout);
		if (r < 0)
			return die(r, "cannot print the %s configuration", o.print);
		return 0;
	}

	if (!o.socket)
		o.socket = conf->server.oci_socket;
	if (!ic_filter_wanted(policy))
		return die(0, "policy '%s' intercepts no syscall: nothing for interceptd to serve",
			   policy->name);
	if (o.rootfs && stat(o.rootfs, &st) < 0)
		return die(errno, "--rootfs %s", o.rootfs);
	if (o.rootfs && !S_ISDIR(st.st_mode))
		return die(ENOTDIR, "--rootfs %s", o.rootfs);
	r = ic_cgroup_init();
	if (r < 0)
		return die(r, "cannot discover the cgroup mounts");
	return run(&o, policy);
}
