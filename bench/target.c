/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "common/macros.h"
#include "common/proc.h"
#include "common/oci.h"
#include "common/sock.h"

/* The targets: forked processes with their own filter and listener, timing each call from
 * inside. The driver and its targets share one mapping: a phase word the targets follow, and
 * per-target counts and latency samples the driver reads once they have exited. */

#define MAX_WINDOWS	   16
#define SAMPLES_PER_WINDOW (2u << 20) /* over all targets; each keeps its latest share */
#define PHASE_WAIT	   0
#define PHASE_WARMUP	   1
#define PHASE_WINDOW0	   2 /* window w runs in phase PHASE_WINDOW0 + w */

const char *const ic_bench_under_name[_IC_BENCH_UNDER_MAX] = {
    [IC_BENCH_NATIVE] = "native",
    [IC_BENCH_ALLOW] = "allow-filter",
    [IC_BENCH_AGENT] = "agent-val0",
    [IC_BENCH_AGENT_EPOLL] = "agent-val0-epoll",
    [IC_BENCH_DAEMON] = "interceptd",
    [IC_BENCH_SAMEWORK] = "agent-samework",
    [IC_BENCH_SAMEWORK_EPOLL] = "agent-samework-epoll",
};

const char *const ic_bench_workload_name[_IC_BENCH_WORKLOAD_MAX] = {
    [IC_BENCH_SYSINFO] = "sysinfo",   [IC_BENCH_MKNOD] = "mknod", [IC_BENCH_SETXATTR] = "setxattr",
    [IC_BENCH_CONTINUE] = "continue", [IC_BENCH_FIFO] = "fifo",
};

struct shared {
	int phase; /* futex word, written by the driver only */
	int ready;
	int failing; /* claimed by the first target to fail, which then writes why */
	int failed;  /* set (release) once why is written */
	char why[256];
};

struct slot {
	uint64_t count[MAX_WINDOWS];
};

struct run {
	const struct ic_bench_env *env;
	const struct ic_bench_case *c;
	struct shared *sh;
	struct slot *slots;
	uint32_t *samples; /* [slot][window][k] */
	size_t map_len;
	unsigned k; /* samples kept per slot and window */
	int n_calling, n_total;
	int serial; /* of this case in the run: container ids are never reused */
	pid_t driver;
	int idle_pipe[2];
	int agent_sock[2];
	pid_t agent;
};

/* Every child of the driver, so that an interrupted run leaves none behind. */
static pid_t *children;
static size_t n_children, cap_children;

/* fork() with the driver's interrupt handler never running in the child: the child starts
 * with SIGINT and SIGTERM at their defaults. */
pid_t ic_bench_fork(void)
{
	sigset_t block, old;
	pid_t pid;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	pid = fork();
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return pid;
}

static int child_add(pid_t pid)
{
	if (n_children == cap_children) {
		size_t cap = cap_children ? 2 * cap_children : 1024;
		sigset_t all, old;
		pid_t *p;

		/* The interrupt handler walks the array: not while it moves. */
		sigfillset(&all);
		sigprocmask(SIG_BLOCK, &all, &old);
		p = realloc(children, cap * sizeof(*p));
		if (p) {
			children = p;
			cap_children = cap;
		}
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (!p) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return -ENOMEM;
		}
	}
	children[n_children++] = pid;
	return 0;
}

/* Async-signal-safe: the interrupt handler calls it. */
void ic_bench_kill_children(void)
{
	for (size_t i = 0; i < n_children; i++)
		if (children[i] > 0)
			kill(children[i], SIGKILL);
}

/* Reaps the child that exited, if it is ours; false for another (the daemon) or none. */
static bool reap_one(pid_t pid)
{
	for (size_t i = n_children; i-- > 0;)
		if (children[i] == pid) {
			waitpid(pid, NULL, 0);
			children[i] = 0;
			return true;
		}
	return false;
}

/* The pid of a child that has exited, left unreaped; 0 if none. */
static pid_t peek_exited(siginfo_t *si)
{
	*si = (siginfo_t){0};
	if (waitid(P_ALL, 0, si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return 0;
	return si->si_pid;
}

static void futex_wait(int *word, int val)
{
	syscall(SYS_futex, word, FUTEX_WAIT, val, NULL, NULL, 0);
}

static void futex_wake_all(int *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

/* In a target: the first failure names itself to the driver, and the target exits. */
static _Noreturn void target_fail(struct run *r, const char *what, int err)
{
	if (!__atomic_exchange_n(&r->sh->failing, 1, __ATOMIC_ACQ_REL)) {
		snprintf(r->sh->why, sizeof(r->sh->why), "%s %s target: %s: %s",
			 ic_bench_under_name[r->c->under], ic_bench_workload_name[r->c->wl], what,
			 strerror(err));
		__atomic_store_n(&r->sh->failed, 1, __ATOMIC_RELEASE);
	}
	_exit(1);
}

/* What the C library calls: its mknod() is mknodat(AT_FDCWD, ...). */
static int workload_nr(enum ic_bench_workload wl)
{
	switch (wl) {
	case IC_BENCH_SYSINFO:
		return SYS_sysinfo;
	case IC_BENCH_SETXATTR:
		return SYS_setxattr;
	default:
		return SYS_mknodat;
	}
}

struct work {
	enum ic_bench_workload wl;
	char path[300];
};

static int work_call(const struct work *w)
{
	struct sysinfo si;

	switch (w->wl) {
	case IC_BENCH_SYSINFO:
		return sysinfo(&si);
	case IC_BENCH_MKNOD:
		return mknod(w->path, S_IFCHR | 0666, makedev(1, 3));
	case IC_BENCH_CONTINUE:
		return mknod(w->path, S_IFBLK | 0600, makedev(7, 0));
	case IC_BENCH_FIFO:
		return mknod(w->path, S_IFIFO | 0666, 0);
	case IC_BENCH_SETXATTR:
		return setxattr(w->path, "trusted.overlay.opaque", "y", 1, 0);
	case _IC_BENCH_WORKLOAD_MAX:
		break;
	}
	errno = EINVAL;
	return -1;
}

/* Outside the timed region: the node goes, so that the next call makes it anew. */
static void work_after(const struct work *w)
{
	if (w->wl != IC_BENCH_SYSINFO && w->wl != IC_BENCH_SETXATTR)
		unlink(w->path);
}

/* A filter that allows everything, or notifies nr (x86_64) and allows the rest. Returns the
 * listener, 0 for the allow filter, or -errno. */
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
	struct sock_fprog prog = notify_nr < 0 ? (struct sock_fprog){1, allow}
					       : (struct sock_fprog){ARRAY_SIZE(notify), notify};
	int r;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	r = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			 notify_nr < 0 ? 0 : SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	return r < 0 ? -errno : r;
}

enum role { ROLE_BUSY, ROLE_PACED, ROLE_IDLE };

void ic_bench_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* The fairness placement (struct ic_bench_case.placed). The quiet (paced) container registers
 * first, so interceptd gives its listener to acceptor 0 (the least-loaded acceptor, ties to the
 * first), which runs on CPU 0 (doc/design.md §2); its target runs there too, as the one-thread
 * agent runs beside its target. The flood runs on every other CPU (with one CPU, on CPU 0 as
 * well): it reaches the quiet container only through the daemon they share, by the flood's
 * listeners that acceptor 0 serves as well, and never through the quiet target's own CPU or
 * through the luck of which acceptor the quiet container happened to get. */
static void place(enum role role)
{
	int cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;

	if (cpus < 2 || role != ROLE_BUSY) {
		ic_bench_pin(0);
		return;
	}
	CPU_ZERO(&set);
	for (int i = 1; i < cpus; i++)
		CPU_SET(i, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* The node workloads as a container's root would run them: in a user namespace whose root
 * is IC_BENCH_USERNS_BASE outside. The driver writes the maps (sync[0] to it, sync[1] back). */
int ic_bench_die_with(pid_t driver)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return -errno;
	return getppid() == driver ? 0 : -ESRCH;
}

static int enter_userns(pid_t driver, int to_driver, int from_driver)
{
	char b = 0;

	if (unshare(CLONE_NEWUSER) < 0)
		return -errno;
	if (write(to_driver, &b, 1) != 1 || read(from_driver, &b, 1) != 1 || b != 'm')
		return -EPROTO;
	if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return -errno;
	/* A change of credentials clears the parent-death signal. */
	return ic_bench_die_with(driver);
}

static int write_maps(pid_t pid)
{
	static const char *const files[] = {"uid_map", "gid_map"};
	char path[64], map[64];
	ssize_t n;

	snprintf(map, sizeof(map), "0 %d 65536\n", IC_BENCH_USERNS_BASE);
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_close_ int fd = -EBADF;

		snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, files[i]);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		n = write(fd, map, strlen(map));
		if (n != (ssize_t)strlen(map))
			return n < 0 ? -errno : -EIO;
	}
	return 0;
}

static bool needs_userns(const struct ic_bench_case *c)
{
	return c->under == IC_BENCH_DAEMON &&
	       (c->wl == IC_BENCH_MKNOD || c->wl == IC_BENCH_SETXATTR);
}

static bool notified(const struct ic_bench_case *c)
{
	return c->under != IC_BENCH_NATIVE && c->under != IC_BENCH_ALLOW;
}

/* The one-thread agents, which share their target's CPU. */
static bool single_agent(const struct ic_bench_case *c)
{
	return c->under == IC_BENCH_AGENT || c->under == IC_BENCH_SAMEWORK;
}

/* What the ids of this case's containers, and only theirs, start with. */
static void container_prefix(const struct run *r, char *buf, size_t len)
{
	snprintf(buf, len, "bench-%d-%d-", (int)r->driver, r->serial);
}

/* The container a target belongs to: the flood's busy targets share one. */
static void container_id(const struct run *r, enum role role, int i, char *id, size_t len)
{
	const struct ic_bench_case *c = r->c;

	char prefix[48];

	container_prefix(r, prefix, sizeof(prefix));
	if (role == ROLE_BUSY && c->busy_share_id)
		snprintf(id, len, "%sflood", prefix);
	else
		snprintf(id, len, "%s%d", prefix, i);
}

/* Hands the listener to whoever answers it. Consumes listener. */
static void hand_over(struct run *r, int oci, int listener, enum role role, int i)
{
	if (r->c->under == IC_BENCH_DAEMON) {
		_cleanup_free_ char *json = NULL;
		char id[64];
		int q;

		container_id(r, role, i, id, sizeof(id));
		json = ic_oci_format(id, getpid(), getpid(), "creating", NULL);
		if (!json)
			target_fail(r, "JSON", ENOMEM);
		q = ic_sock_send_fds(oci, json, strlen(json), &listener, 1);
		if (q < 0)
			target_fail(r, "registering with interceptd", -q);
		close(oci);
	} else {
		int q = ic_sock_send_fds(r->agent_sock[1], "L", 1, &listener, 1);

		if (q < 0)
			target_fail(r, "handing the listener to the agent", -q);
	}
	close(listener);
}

static void target_loop(struct run *r, const struct work *w, enum role role, int slot)
{
	const int n_win = r->env->t.windows;
	struct slot *s = &r->slots[slot];
	uint32_t *smp = r->samples + (size_t)slot * (size_t)n_win * r->k;
	uint64_t next = 0, pace = (uint64_t)r->c->pace_us * 1000;
	int ph;

	while ((ph = __atomic_load_n(&r->sh->phase, __ATOMIC_ACQUIRE)) == PHASE_WAIT)
		futex_wait(&r->sh->phase, PHASE_WAIT);
	for (;;) {
		uint64_t t0, dt;
		int win;

		ph = __atomic_load_n(&r->sh->phase, __ATOMIC_ACQUIRE);
		win = ph - PHASE_WINDOW0;
		if (win >= n_win)
			return;
		t0 = ic_now_ns();
		if (work_call(w) < 0)
			target_fail(r, ic_bench_workload_name[w->wl], errno);
		dt = ic_now_ns() - t0;
		if (win >= 0) {
			uint64_t n = s->count[win];

			smp[(size_t)win * r->k + n % r->k] =
			    dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
			s->count[win] = n + 1;
		}
		work_after(w);
		if (role == ROLE_PACED) {
			struct timespec ts;
			uint64_t t = ic_now_ns();

			next = next + pace > t ? next + pace : t + pace;
			ts.tv_sec = (time_t)(next / 1000000000ULL);
			ts.tv_nsec = (long)(next % 1000000000ULL);
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
	}
}

static _Noreturn void target_main(struct run *r, enum role role, int i, int slot, int sync_to,
				  int sync_from)
{
	const struct ic_bench_case *c = r->c;
	_cleanup_close_ int oci = -EBADF;
	struct work w = {.wl = c->wl};
	char b = 0;
	int listener, q;

	if (ic_bench_die_with(r->driver) < 0)
		_exit(1);
	if (single_agent(c))
		ic_bench_pin(r->env->agent_cpu);
	if (c->placed)
		place(role);
	if (c->wl == IC_BENCH_SETXATTR)
		snprintf(w.path, sizeof(w.path), "%s/x%d", r->env->dir, i);
	else
		snprintf(w.path, sizeof(w.path), "%s/n%d", r->env->dir, i);
	if (c->under == IC_BENCH_DAEMON) {
		/* Connected as root: the socket is the host's, not the container's. */
		oci = ic_sock_connect(r->env->socket, SOCK_STREAM);
		/* The daemon binds its socket a moment before it listens on it. */
		for (int tries = 0; oci == -ECONNREFUSED && tries < 100; tries++) {
			ic_bench_sleep_ms(20);
			oci = ic_sock_connect(r->env->socket, SOCK_STREAM);
		}
		if (oci < 0)
			target_fail(r, r->env->socket, -oci);
	}
	if (sync_to >= 0) {
		q = enter_userns(r->driver, sync_to, sync_from);
		if (q < 0)
			target_fail(r, "entering a user namespace", -q);
	}
	if (c->under != IC_BENCH_NATIVE) {
		listener = load_filter(c->under == IC_BENCH_ALLOW ? -1 : workload_nr(c->wl));
		if (listener < 0)
			target_fail(r, "loading the filter", -listener);
		if (notified(c))
			hand_over(r, TAKE_FD(oci), listener, role, i);
	}
	__atomic_add_fetch(&r->sh->ready, 1, __ATOMIC_RELEASE);
	if (role == ROLE_IDLE) {
		/* Registered, never calling: until the driver closes the pipe. */
		while (read(r->idle_pipe[0], &b, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	target_loop(r, &w, role, slot);
	_exit(0);
}

static void close_pair(int (*p)[2])
{
	for (int i = 0; i < 2; i++)
		if ((*p)[i] >= 0)
			close((*p)[i]);
}

/* The user-namespace hand-shake: the target has unshared when it writes; we map it. */
static int map_target(pid_t pid, int from_target, int to_target)
{
	struct pollfd p = {.fd = from_target, .events = POLLIN};
	char b;
	int q;

	if (poll(&p, 1, 30000) <= 0 || read(from_target, &b, 1) != 1)
		return -EPROTO; /* the target failed first and says why, or hangs: killed */
	q = write_maps(pid);
	if (q == 0 && write(to_target, "m", 1) != 1)
		q = -errno;
	return q;
}

static int spawn_target(struct run *r, enum role role, int i, int slot)
{
	_cleanup_(close_pair) int to_driver[2] = {-1, -1}, from_driver[2] = {-1, -1};
	bool userns = needs_userns(r->c);
	pid_t pid;
	int q;

	if (userns && (pipe2(to_driver, O_CLOEXEC) < 0 || pipe2(from_driver, O_CLOEXEC) < 0))
		return -errno;
	pid = ic_bench_fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(r->idle_pipe[1]);
		close(to_driver[0]);
		close(from_driver[1]);
		target_main(r, role, i, slot, to_driver[1], from_driver[0]);
	}
	/* Ours closed, a target that dies first hangs up the hand-shake at once. */
	close(to_driver[1]);
	close(from_driver[0]);
	to_driver[1] = from_driver[0] = -1;
	q = child_add(pid);
	if (q < 0)
		return q;
	return userns ? map_target(pid, to_driver[0], from_driver[1]) : 0;
}

static int start_agent(struct run *r, int n)
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, r->agent_sock) < 0)
		return -errno;
	r->agent = ic_bench_agent_start(
	    r->agent_sock[0], n, single_agent(r->c) ? 0 : r->c->agent_threads, r->env->agent_cpu,
	    r->c->under == IC_BENCH_SAMEWORK || r->c->under == IC_BENCH_SAMEWORK_EPOLL, r->driver,
	    (const int[]){r->agent_sock[1], r->idle_pipe[1]}, 2);
	if (r->agent < 0)
		return r->agent;
	if (child_add(r->agent) < 0)
		return -ENOMEM;
	close(r->agent_sock[0]);
	r->agent_sock[0] = -1;
	return 0;
}

/* --- the driver ---------------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples, in microseconds. */
static double pct(const uint32_t *sorted, size_t n, double q)
{
	long i = (long)(q * (double)n + 0.5) - 1;

	if (i < 0)
		i = 0;
	if ((size_t)i >= n)
		i = (long)n - 1;
	return (double)sorted[i] / 1000.0;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Samples of slots [from, to) in window w (all windows when w < 0) into buf; their count. */
static size_t gather(const struct run *r, int from, int to, int w, uint32_t *buf, uint64_t *calls)
{
	const int n_win = r->env->t.windows;
	size_t n = 0;

	*calls = 0;
	for (int s = from; s < to; s++)
		for (int v = w < 0 ? 0 : w; v < (w < 0 ? n_win : w + 1); v++) {
			uint64_t c = r->slots[s].count[v];
			size_t keep = c < r->k ? (size_t)c : r->k;

			memcpy(buf + n, r->samples + ((size_t)s * (size_t)n_win + (size_t)v) * r->k,
			       keep * sizeof(*buf));
			n += keep;
			*calls += c;
		}
	return n;
}

/* The figures of slots [from, to): each window's percentiles and rate, then the median over
 * the windows. A percentile that some window has too few samples for (100 for p99, 1000 for
 * p99.9) comes from all windows pooled, or is unknown (-1). A paced target's percentiles come
 * from all windows pooled: its tail is what fairness is judged on, and one window holds too
 * few of it; its p99 is known however few calls completed (then it is their slowest). A window
 * in which no call completed counts as rate 0 and says so. */
static int summarise(const struct run *r, int from, int to, const uint64_t *win_ns,
		     struct ic_bench_result *res)
{
	const int n_win = r->env->t.windows;
	double p50[MAX_WINDOWS], p99[MAX_WINDOWS], p999[MAX_WINDOWS], rate[MAX_WINDOWS];
	_cleanup_free_ uint32_t *all =
	    malloc((size_t)(to - from) * (size_t)n_win * r->k * sizeof(*all));
	size_t fewest = SIZE_MAX, n;
	uint64_t calls;
	int used = 0;

	if (!all)
		return -ENOMEM;
	res->samples = 0;
	for (int w = 0; w < n_win; w++) {
		n = gather(r, from, to, w, all, &calls);
		rate[w] = (double)calls * 1e9 / (double)win_ns[w];
		res->samples += (long long)calls;
		fewest = n < fewest ? n : fewest;
		if (n == 0) {
			fprintf(stderr, "\n  window %d: no call completed", w + 1);
			continue;
		}
		qsort(all, n, sizeof(*all), cmp_u32);
		p50[used] = pct(all, n, 0.50);
		p99[used] = pct(all, n, 0.99);
		p999[used++] = pct(all, n, 0.999);
	}
	if (!used)
		return -ENODATA;
	res->calls_per_s = median(rate, n_win);
	res->p50_us = median(p50, used);
	res->p99_us = median(p99, used);
	res->p999_us = median(p999, used);
	if (r->c->paced) {
		n = gather(r, from, to, -1, all, &calls);
		qsort(all, n, sizeof(*all), cmp_u32);
		res->p50_us = pct(all, n, 0.50);
		res->p99_us = pct(all, n, 0.99); /* however few: a starved one must show */
		res->p999_us = n >= 1000 ? pct(all, n, 0.999) : -1;
	} else if (fewest < 1000) {
		n = gather(r, from, to, -1, all, &calls);
		qsort(all, n, sizeof(*all), cmp_u32);
		if (fewest < 100)
			res->p99_us = n >= 100 ? pct(all, n, 0.99) : -1;
		res->p999_us = n >= 1000 ? pct(all, n, 0.999) : -1;
	}
	return 0;
}

void ic_bench_sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int fail_from_targets(const struct run *r)
{
	if (__atomic_load_n(&r->sh->failed, __ATOMIC_ACQUIRE)) {
		fprintf(stderr, "intercept-bench: %s\n", r->sh->why);
		return -EIO;
	}
	return 0;
}

/* interceptd's memory: the server's and the keeper's RSS (kB, < 0 unknown) before the case's
 * targets register and once they all have. The keeper holds a copy of every listener. */
struct daemon_mem {
	pid_t server, keeper; /* 0: none or unknown */
	long server0, keeper0, server1, keeper1;
};

static void mem_read(const struct daemon_mem *m, long *server, long *keeper)
{
	*server = m->server > 0 ? ic_bench_rss_kib(m->server) : -1;
	*keeper = m->keeper > 0 ? ic_bench_rss_kib(m->keeper) : -1;
}

/* Growth per container, or -1 when unknown; a process that shrank grew by nothing. */
static double mem_growth(long before, long after, long containers)
{
	return before > 0 && after > 0 ? (double)IC_MAX(after - before, 0) / (double)containers
				       : -1;
}

/* Until every target is ready (and, for interceptd, registered: the daemon holds the case's
 * containers), a target fails, or 3 minutes have passed. */
static int wait_ready(const struct run *r, pid_t daemon, const char *control, long containers,
		      struct daemon_mem *mem)
{
	bool total_reached = false;
	char prefix[64];

	container_prefix(r, prefix, sizeof(prefix));
	for (uint64_t end = ic_now_ns() + 180 * 1000000000ULL; ic_now_ns() < end;) {
		long have = -1;
		siginfo_t si;
		pid_t pid;

		if (fail_from_targets(r) < 0)
			return -EIO;
		pid = peek_exited(&si);
		if (pid > 0) {
			/* A target that failed has said why: let it be read. */
			ic_bench_sleep_ms(10);
			if (fail_from_targets(r) < 0)
				return -EIO;
			fprintf(stderr, "intercept-bench: %s (pid %d) %s %d early\n",
				pid == r->agent ? "the agent"
				: pid == daemon ? "interceptd"
						: "a target",
				(int)pid,
				si.si_code == CLD_EXITED ? "exited with status" : "died of signal",
				si.si_status);
			return -ECHILD;
		}
		if (__atomic_load_n(&r->sh->ready, __ATOMIC_ACQUIRE) < r->n_total) {
			ic_bench_sleep_ms(2);
			continue;
		}
		if (!control)
			return 0;
		/* The cheap total first; the daemon's memory is read before listing its
		 * containers (what the listing allocates would count as theirs). A total
		 * that counts others' containers is then checked against ours by id. */
		if (!total_reached) {
			pid_t keeper;

			if (ic_bench_daemon_status(control, &pid, &keeper, &have) == 0 &&
			    have >= containers) {
				total_reached = true;
				mem_read(mem, &mem->server1, &mem->keeper1);
				continue;
			}
		} else if (ic_bench_daemon_count(control, prefix, &have) == 0 &&
			   have >= containers) {
			return 0;
		}
		ic_bench_sleep_ms(20);
	}
	fprintf(stderr, "intercept-bench: targets not ready after 3 minutes\n");
	return -ETIMEDOUT;
}

static void kill_and_reap_all(void)
{
	ic_bench_kill_children();
	for (size_t i = 0; i < n_children; i++)
		if (children[i] > 0)
			waitpid(children[i], NULL, 0);
	n_children = 0;
}

static int prepare_paths(const struct run *r)
{
	const struct ic_bench_case *c = r->c;
	uid_t owner = needs_userns(c) ? IC_BENCH_USERNS_BASE : 0;
	char path[300];

	if (c->wl == IC_BENCH_SYSINFO)
		return 0;
	for (int i = 0; i < r->n_total; i++) {
		if (c->wl == IC_BENCH_SETXATTR) {
			snprintf(path, sizeof(path), "%s/x%d", r->env->dir, i);
			if ((mkdir(path, 0755) < 0 && errno != EEXIST) ||
			    chown(path, owner, owner) < 0)
				return -errno;
		} else {
			snprintf(path, sizeof(path), "%s/n%d", r->env->dir, i);
			unlink(path);
		}
	}
	return 0;
}

/* Which target the k-th spawned is: busy, paced, idle; for a placed case the paced first. */
static int spawn_order(const struct ic_bench_case *c, int k)
{
	if (!c->placed || k >= c->busy + c->paced)
		return k;
	return k < c->paced ? c->busy + k : k - c->paced;
}

/* Until interceptd holds n of this case's containers (30 s at most). */
static int wait_registered(const struct run *r, const char *control, long n)
{
	char prefix[64];
	long have = 0;

	container_prefix(r, prefix, sizeof(prefix));
	for (uint64_t end = ic_now_ns() + 30 * 1000000000ULL; ic_now_ns() < end;) {
		if (fail_from_targets(r) < 0)
			return -EIO;
		/* Without the control socket (--socket alone): handed over, and a moment for
		 * the daemon to take them. */
		if (!control && __atomic_load_n(&r->sh->ready, __ATOMIC_ACQUIRE) >= n) {
			ic_bench_sleep_ms(200);
			return 0;
		}
		if (control && ic_bench_daemon_count(control, prefix, &have) == 0 && have >= n)
			return 0;
		ic_bench_sleep_ms(2);
	}
	fprintf(stderr, "intercept-bench: interceptd holds %ld of %ld containers after 30 s\n",
		have, n);
	return -ETIMEDOUT;
}

/* At most this many targets handed to interceptd and not yet registered. It accepts every
 * pending connection at once and refuses one it has not read within 5 s of accepting it; on a
 * loaded machine it registered 22 a second, so 256 at once lost some (a case then fails: a
 * refused target never registers). Runtimes start containers one at a time. */
#define REGISTERING_MAX 32

/* Until interceptd holds n containers more than it held at the start (before, when the daemon
 * did not say: none), 3 minutes at most. Only its total: listing the containers by id would
 * allocate in the daemon while its memory growth is measured. */
static int wait_taken(const struct run *r, const char *control, long before, long n)
{
	long have = -1;

	for (uint64_t end = ic_now_ns() + 180 * 1000000000ULL; ic_now_ns() < end;) {
		pid_t pid, keeper;

		if (fail_from_targets(r) < 0)
			return -EIO;
		if (ic_bench_daemon_status(control, &pid, &keeper, &have) == 0 &&
		    have - before >= n)
			return 0;
		ic_bench_sleep_ms(5);
	}
	fprintf(stderr,
		"intercept-bench: interceptd took %ld of the %ld containers handed to it after 3 "
		"minutes\n",
		have - before, n);
	return -ETIMEDOUT;
}

static int run_phases(struct run *r, const char *control, long containers, pid_t daemon,
		      struct ic_bench_result *res)
{
	const struct ic_bench_timing *t = &r->env->t;
	const struct ic_bench_case *c = r->c;
	const int window_ms = c->window_ms ? c->window_ms : t->window_ms;
	uint64_t win_ns[MAX_WINDOWS];
	struct daemon_mem mem = {0};
	bool throttle = c->under == IC_BENCH_DAEMON && control && !c->busy_share_id;
	int q, gone = 0;
	long before = 0;
	pid_t pid;

	if (c->under == IC_BENCH_DAEMON && control &&
	    ic_bench_daemon_status(control, &mem.server, &mem.keeper, &before) < 0)
		mem.server = mem.keeper = before = 0;
	mem_read(&mem, &mem.server0, &mem.keeper0);

	if (notified(c) && c->under != IC_BENCH_DAEMON) {
		q = start_agent(r, r->n_total);
		if (q < 0)
			return q;
	}
	for (int k = 0; k < r->n_total; k++) {
		int i = spawn_order(c, k);
		enum role role = i < c->busy		  ? ROLE_BUSY
				 : i < c->busy + c->paced ? ROLE_PACED
							  : ROLE_IDLE;

		if (c->placed && k == c->paced && c->under == IC_BENCH_DAEMON) {
			q = wait_registered(r, control, c->paced);
			if (q < 0)
				return q;
		}
		if (throttle && k >= REGISTERING_MAX && k % 8 == 0) {
			q = wait_taken(r, control, before, k - REGISTERING_MAX);
			if (q < 0)
				return q;
		}
		/* Calling targets come first: target i has slot i. */
		q = spawn_target(r, role, i, role == ROLE_IDLE ? -1 : i);
		if (q < 0) {
			fail_from_targets(r);
			fprintf(stderr, "intercept-bench: cannot start target %d: %s\n", i,
				strerror(-q));
			return q;
		}
		if (r->n_total >= 1000 && i % 1000 == 999)
			fprintf(stderr, "  %d/%d targets started\n", i + 1, r->n_total);
	}
	q = wait_ready(r, daemon, c->under == IC_BENCH_DAEMON ? control : NULL, containers, &mem);
	if (q < 0)
		return q;
	res->rss_server_kib_per_ctr = mem_growth(mem.server0, mem.server1, containers);
	res->rss_keeper_kib_per_ctr = mem_growth(mem.keeper0, mem.keeper1, containers);
	/* Both, where both are known; the server alone where there is no keeper. */
	res->rss_kib_per_ctr = res->rss_server_kib_per_ctr;
	if (mem.keeper > 0) {
		double k = res->rss_keeper_kib_per_ctr;

		res->rss_kib_per_ctr =
		    res->rss_kib_per_ctr >= 0 && k >= 0 ? res->rss_kib_per_ctr + k : -1;
	}
	__atomic_store_n(&r->sh->phase, PHASE_WARMUP, __ATOMIC_RELEASE);
	futex_wake_all(&r->sh->phase);
	ic_bench_sleep_ms(t->warmup_ms);
	for (int w = 0; w < t->windows; w++) {
		uint64_t t0 = ic_now_ns();

		__atomic_store_n(&r->sh->phase, PHASE_WINDOW0 + w, __ATOMIC_RELEASE);
		ic_bench_sleep_ms(window_ms);
		win_ns[w] = ic_now_ns() - t0;
	}
	__atomic_store_n(&r->sh->phase, PHASE_WINDOW0 + t->windows, __ATOMIC_RELEASE);
	close(r->idle_pipe[1]);
	r->idle_pipe[1] = -1;
	/* Targets stop at their next call (the agent never does). One that does not within 30 s
	 * waits on an answer that never came: the case fails. */
	for (uint64_t end = ic_now_ns() + 30 * 1000000000ULL;
	     gone < r->n_total && ic_now_ns() < end;) {
		siginfo_t si;

		pid = peek_exited(&si);
		if (pid > 0 && pid == daemon) {
			fprintf(stderr, "intercept-bench: interceptd (pid %d) died\n", (int)pid);
			return -ECHILD;
		}
		if (pid > 0 && reap_one(pid))
			gone += pid != r->agent; /* a dead agent fails its targets' calls */
		else
			ic_bench_sleep_ms(5);
	}
	q = fail_from_targets(r);
	if (q < 0)
		return q;
	if (gone < r->n_total) {
		fprintf(stderr,
			"intercept-bench: %d of %d targets still waiting on a call 30 s after "
			"the last window\n",
			r->n_total - gone, r->n_total);
		return -ETIMEDOUT;
	}
	if (c->paced && c->busy) {
		struct ic_bench_result busy = {.c = *c};

		q = summarise(r, 0, c->busy, win_ns, &busy);
		if (q < 0)
			return q;
		res->busy_calls_per_s = busy.calls_per_s;
	}
	return c->paced ? summarise(r, c->busy, c->busy + c->paced, win_ns, res)
			: summarise(r, 0, c->busy, win_ns, res);
}

int ic_bench_run_case(const struct ic_bench_env *env, const struct ic_bench_case *c,
		      struct ic_bench_result *res, pid_t daemon, const char *control)
{
	struct run r = {.env = env,
			.c = c,
			.idle_pipe = {-1, -1},
			.agent_sock = {-1, -1},
			.n_calling = c->busy + c->paced,
			.n_total = c->busy + c->paced + c->idle};
	long containers = (c->busy_share_id ? c->busy > 0 : c->busy) + c->paced + c->idle;
	static int serial;
	size_t head, slots;
	int q;

	if (env->t.windows < 1 || env->t.windows > MAX_WINDOWS || r.n_calling < 1 ||
	    (single_agent(c) && r.n_total != 1))
		return -EINVAL;
	r.serial = serial++;
	r.driver = getpid();
	*res = (struct ic_bench_result){.c = *c};
	r.k = SAMPLES_PER_WINDOW / (unsigned)r.n_calling;
	head = (sizeof(struct shared) + 63) & ~(size_t)63;
	slots = (size_t)r.n_calling * sizeof(struct slot);
	r.map_len = head + slots + (size_t)r.n_calling * (size_t)env->t.windows * r.k * 4;
	r.sh = mmap(NULL, r.map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r.sh == MAP_FAILED)
		return -errno;
	r.slots = (struct slot *)((char *)r.sh + head);
	r.samples = (uint32_t *)((char *)r.slots + slots);
	q = prepare_paths(&r);
	if (q == 0 && pipe2(r.idle_pipe, O_CLOEXEC) < 0)
		q = -errno;
	if (q == 0)
		q = run_phases(&r, control, containers, daemon, res);
	close_pair(&r.idle_pipe);
	close_pair(&r.agent_sock);
	kill_and_reap_all(); /* the agent, and whatever failed to stop */
	munmap(r.sh, r.map_len);
	return q;
}
