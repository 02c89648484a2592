/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "common/macros.h"
#include "common/proc.h"

/* intercept-bench: what an intercepted syscall costs a container, how many calls a second the
 * host serves, how many containers one daemon holds, measured in one run beside the native
 * call, a seccomp ALLOW filter and minimal agents (val-0: the kernel's own round-trip floor;
 * same-work: that plus the work every honest answer does), so that the ratios hold on a noisy
 * machine. */

struct preset {
	const char *name;
	struct ic_bench_timing t;
	int scaling[8];	   /* busy containers, 0-terminated */
	int density[8];	   /* registered containers, one of them busy */
	int threads[4][2]; /* interceptd acceptors/workers for the threads section */
	int threads_busy;
	/* The quiet container alone, then beside the flood, compared runs times; windows of
	 * window_ms, long enough that the quiet one's pooled p99 rests on 100s of calls. */
	int fairness_flood, fairness_pace_us, fairness_runs, fairness_window_ms;
};

static const struct preset presets[] = {
    {"selftest", {2, 40, 20}, {1, 16}, {1, 16}, {{1, 1}}, 4, 2, 200, 2, 100},
    {"short", {3, 250, 100}, {1, 16, 256, 1024}, {1, 1024, 10000}, {{1, 1}}, 16, 8, 200, 3, 500},
    {"full",
     {5, 1000, 300},
     {1, 16, 256, 1024, 4096, 10000},
     {1, 16, 256, 1024, 4096, 10000},
     {{1, 1}, {1, 2}, {2, 4}},
     256,
     8,
     200,
     5,
     1500},
};

struct opts {
	const struct preset *p;
	const char *out, *socket, *control, *daemon, *tmp;
	const char *only; /* comma-separated sections, NULL: all */
};

static struct ic_bench_env env;
static struct ic_bench_daemon daemon_now;
static char work_dir[PATH_MAX], fs_dir[PATH_MAX + 8];
static bool fs_mounted;
static struct ic_bench_result *results;
static size_t n_results, cap_results;

/* Says what failed and why; returns err (negative errno). */
static int __attribute__((format(printf, 2, 3))) say_errno(int err, const char *fmt, ...)
{
	va_list ap;

	fputs("intercept-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(-err));
	return err;
}

/* The minimal agent holds a listener per target: the soft limit goes up to the hard one. */
static int raise_fd_limit(const struct ic_bench_case *cs, size_t n)
{
	rlim_t need = 64;
	struct rlimit rl;

	for (size_t i = 0; i < n; i++)
		if ((rlim_t)(cs[i].busy + cs[i].idle + cs[i].paced) + 64 > need)
			need = (rlim_t)(cs[i].busy + cs[i].idle + cs[i].paced) + 64;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return say_errno(-errno, "getrlimit");
	if (rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max < need)
		return say_errno(
		    -EMFILE,
		    "this preset needs %llu open files, the hard limit is %llu (ulimit "
		    "-Hn)",
		    (unsigned long long)need, (unsigned long long)rl.rlim_max);
	rl.rlim_cur = need;
	return setrlimit(RLIMIT_NOFILE, &rl) < 0 ? say_errno(-errno, "setrlimit") : 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void cleanup(void)
{
	ic_bench_kill_children();
	ic_bench_daemon_stop(&daemon_now);
	if (fs_mounted && umount2(fs_dir, MNT_DETACH) == 0)
		fs_mounted = false;
	if (*work_dir && !fs_mounted)
		nftw(work_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void on_signal(int sig)
{
	/* Only what is safe here: system calls on names known in advance. */
	ic_bench_kill_children();
	ic_bench_daemon_kill(&daemon_now);
	ic_bench_daemon_remove(&daemon_now);
	if (fs_mounted && umount2(fs_dir, MNT_DETACH) == 0) {
		rmdir(fs_dir);
		rmdir(work_dir);
	}
	_exit(128 + sig);
}

/* Whether a directory on the way to path lacks o+x; bad names it. */
static bool unsearchable(const char *path, char *bad, size_t len)
{
	char *slash;

	snprintf(bad, len, "%s", path);
	while ((slash = strrchr(bad, '/')) && slash != bad) {
		struct stat st;

		*slash = '\0';
		if (stat(bad, &st) == 0 && !(st.st_mode & S_IXOTH))
			return true;
	}
	return false;
}

static int setup_env(const struct opts *o)
{
	char bad[PATH_MAX];

	snprintf(work_dir, sizeof(work_dir), "%s/intercept-bench.XXXXXX", o->tmp);
	if (!mkdtemp(work_dir)) {
		*work_dir = '\0';
		return say_errno(-errno, "cannot make a directory in %s", o->tmp);
	}
	chmod(work_dir, 0755);
	snprintf(fs_dir, sizeof(fs_dir), "%s/fs", work_dir);
	if (mkdir(fs_dir, 0755) < 0 || mount("tmpfs", fs_dir, "tmpfs", 0, "mode=755") < 0)
		return say_errno(-errno, "cannot mount a tmpfs on %s", fs_dir);
	fs_mounted = true;
	if (chown(fs_dir, IC_BENCH_USERNS_BASE, IC_BENCH_USERNS_BASE) < 0)
		return say_errno(-errno, "cannot chown %s", fs_dir);
	/* The node workloads run as the user namespace's root: it must reach the tmpfs. */
	if (unsearchable(work_dir, bad, sizeof(bad)))
		return say_errno(
		    -EACCES,
		    "%s is not searchable by others, so the targets in a user namespace "
		    "cannot reach %s (choose another --tmp)",
		    bad, fs_dir);
	env.dir = fs_dir;
	env.t = o->p->t;
	env.agent_cpu = 0;
	return 0;
}

static struct ic_bench_result *next_result(void)
{
	if (n_results == cap_results) {
		size_t cap = cap_results ? 2 * cap_results : 64;
		struct ic_bench_result *r = realloc(results, cap * sizeof(*r));

		if (!r)
			return NULL;
		results = r;
		cap_results = cap;
	}
	return &results[n_results];
}

/* Runs one case, on the daemon given or one of its own (a fresh one when fresh is set, so
 * that its memory growth is this case's alone). */
static int run(const struct opts *o, const struct ic_bench_case *c, bool fresh, int index,
	       int total)
{
	struct ic_bench_result *res = next_result();
	uint64_t t0 = ic_now_ns();
	pid_t dpid = 0;
	const char *control = o->control;
	siginfo_t si;
	int q;

	if (!res)
		return -ENOMEM;
	fprintf(stderr, "[%2d/%d] %s: %s, %s, %d busy + %d idle + %d paced ...", index, total,
		c->section, ic_bench_under_name[c->under], ic_bench_workload_name[c->wl], c->busy,
		c->idle, c->paced);
	/* A daemon that died is reported once, and the next case that needs one starts one. */
	if (ic_bench_daemon_ended(&daemon_now, &si)) {
		fprintf(stderr, "\nintercept-bench: interceptd died (%s %d)\n",
			si.si_code == CLD_EXITED ? "exit status" : "signal", si.si_status);
		ic_bench_daemon_print_log(&daemon_now);
		ic_bench_daemon_stop(&daemon_now);
	}
	if (c->under == IC_BENCH_DAEMON && !o->socket) {
		if (fresh || daemon_now.pid <= 0) {
			ic_bench_daemon_stop(&daemon_now);
			q = ic_bench_daemon_start(&daemon_now, o->daemon, work_dir, c->acceptors,
						  c->workers);
			if (q < 0)
				return fprintf(stderr, " failed: no daemon\n"), q;
		}
		env.socket = daemon_now.oci;
		control = daemon_now.control;
		dpid = daemon_now.pid;
	} else if (c->under == IC_BENCH_DAEMON) {
		pid_t keeper;
		long n;

		env.socket = o->socket;
		if (o->control && ic_bench_daemon_status(o->control, &dpid, &keeper, &n) < 0)
			dpid = 0;
	}
	q = ic_bench_run_case(&env, c, res, dpid, control);
	if (q < 0) {
		fprintf(stderr, " failed: %s\n", strerror(-q));
		/* What the daemon said about it, when it was ours. */
		if (c->under == IC_BENCH_DAEMON && daemon_now.pid > 0)
			ic_bench_daemon_print_log(&daemon_now);
		return q;
	}
	if (!fresh) /* the growth of a daemon that served earlier cases */
		res->rss_kib_per_ctr = res->rss_server_kib_per_ctr = res->rss_keeper_kib_per_ctr =
		    -1;
	fprintf(stderr,
		"\nSUMMARY section=%s server=%s workload=%s busy=%d idle=%d paced=%d p50_us=%.3f "
		"p99_us=%.3f p999_us=%.3f calls_per_s=%.0f seconds=%.1f\n",
		c->section, ic_bench_under_name[c->under], ic_bench_workload_name[c->wl], c->busy,
		c->idle, c->paced, res->p50_us, res->p99_us, res->p999_us, res->calls_per_s,
		(double)(ic_now_ns() - t0) / 1e9);
	n_results++;
	return 0;
}

static const char *const sections[] = {"single", "scaling", "density", "threads", "fairness"};

/* A comma-separated list: the item after the one at p, NULL after the last. */
static const char *next_item(const char *p)
{
	const char *comma = strchr(p, ',');

	return comma ? comma + 1 : NULL;
}

/* Whether the item at p (up to ',' or the end) is name. */
static bool item_is(const char *p, const char *name)
{
	size_t len = strcspn(p, ",");

	return strlen(name) == len && !strncmp(p, name, len);
}

static bool known_section(const char *p)
{
	for (size_t i = 0; i < ARRAY_SIZE(sections); i++)
		if (item_is(p, sections[i]))
			return true;
	return false;
}

/* Whether section is in the list (all are without one). */
static bool wanted(const char *list, const char *section)
{
	for (const char *p = list; p; p = next_item(p))
		if (item_is(p, section))
			return true;
	return !list;
}

/* The cases of a preset, in the order they run. */
static size_t plan(const struct opts *o, struct ic_bench_case *cs, size_t max)
{
	static const enum ic_bench_workload wls[] = {IC_BENCH_SYSINFO, IC_BENCH_MKNOD,
						     IC_BENCH_SETXATTR, IC_BENCH_CONTINUE};
	static const enum ic_bench_under unders[] = {
	    IC_BENCH_NATIVE, IC_BENCH_ALLOW, IC_BENCH_AGENT, IC_BENCH_SAMEWORK, IC_BENCH_DAEMON};
	const struct preset *p = o->p;
	int cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
	size_t n = 0;

#define ADD(...)                                                                                   \
	do {                                                                                       \
		struct ic_bench_case c_ = {__VA_ARGS__};                                           \
		if (n < max && wanted(o->only, c_.section))                                        \
			cs[n++] = c_;                                                              \
	} while (0)
	for (size_t w = 0; w < ARRAY_SIZE(wls); w++)
		for (size_t u = 0; u < ARRAY_SIZE(unders); u++)
			ADD(.section = "single", .under = unders[u], .wl = wls[w], .busy = 1);
	/* The kernel's own cost of making a node there, for reference beside the native mknod
	 * c 1:3 that the daemon's is held to. */
	for (size_t u = 0; u < 3; u++)
		ADD(.section = "single", .under = unders[u], .wl = IC_BENCH_FIFO, .busy = 1);
	for (size_t i = 0; i < ARRAY_SIZE(p->scaling) && p->scaling[i]; i++) {
		ADD(.section = "scaling", .under = IC_BENCH_AGENT_EPOLL, .wl = IC_BENCH_SYSINFO,
		    .busy = p->scaling[i], .agent_threads = cpus);
		ADD(.section = "scaling", .under = IC_BENCH_SAMEWORK_EPOLL, .wl = IC_BENCH_SYSINFO,
		    .busy = p->scaling[i], .agent_threads = cpus);
		ADD(.section = "scaling", .under = IC_BENCH_DAEMON, .wl = IC_BENCH_SYSINFO,
		    .busy = p->scaling[i]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(p->density) && p->density[i]; i++)
		ADD(.section = "density", .under = IC_BENCH_DAEMON, .wl = IC_BENCH_SYSINFO,
		    .busy = 1, .idle = p->density[i] - 1);
	for (size_t i = 0; !o->socket && i < ARRAY_SIZE(p->threads) && p->threads[i][0]; i++)
		ADD(.section = "threads", .under = IC_BENCH_DAEMON, .wl = IC_BENCH_SYSINFO,
		    .busy = p->threads_busy, .acceptors = p->threads[i][0],
		    .workers = p->threads[i][1]);
	/* Alone and flooded one after the other, so that whatever drifts on the machine meets
	 * both halves of a comparison alike. */
	for (int run = 1; run <= p->fairness_runs; run++) {
		ADD(.section = "fairness", .under = IC_BENCH_DAEMON, .wl = IC_BENCH_SYSINFO,
		    .paced = 1, .pace_us = p->fairness_pace_us, .placed = true, .run = run,
		    .window_ms = p->fairness_window_ms);
		ADD(.section = "fairness", .under = IC_BENCH_DAEMON, .wl = IC_BENCH_SYSINFO,
		    .paced = 1, .pace_us = p->fairness_pace_us, .busy = p->fairness_flood,
		    .busy_share_id = true, .placed = true, .run = run,
		    .window_ms = p->fairness_window_ms);
	}
#undef ADD
	return n;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: intercept-bench [--preset selftest|short|full] [--out DIR] [--tmp DIR]\n"
		"                       [--daemon PATH | --socket OCI_SOCKET [--control SOCKET]]\n"
		"                       [--only single,scaling,density,threads,fairness]\n"
		"Runs every case of the preset (default short) and prints a table; writes\n"
		"DIR/intercept-bench.csv and DIR/intercept-bench.svg (default DIR: .).\n"
		"Without --socket it runs its own interceptd (default: the one beside it, else\n"
		"the installed " SBINDIR "/interceptd).\n");
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
	    {"preset", required_argument, NULL, 'p'}, {"out", required_argument, NULL, 'o'},
	    {"socket", required_argument, NULL, 's'}, {"control", required_argument, NULL, 'c'},
	    {"daemon", required_argument, NULL, 'd'}, {"tmp", required_argument, NULL, 't'},
	    {"only", required_argument, NULL, 'O'},   {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},      {}};
	static char self[PATH_MAX];
	ssize_t len;
	int c;

	*o = (struct opts){.p = &presets[1], .out = ".", .tmp = "/tmp"};
	while ((c = getopt_long(argc, argv, "p:o:s:c:d:t:O:hV", lo, NULL)) != -1) {
		switch (c) {
		case 'p':
			o->p = NULL;
			for (size_t i = 0; i < ARRAY_SIZE(presets); i++)
				if (!strcmp(optarg, presets[i].name))
					o->p = &presets[i];
			if (!o->p) {
				fprintf(stderr,
					"intercept-bench: unknown preset '%s' "
					"(selftest, short, full)\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'o':
			o->out = optarg;
			break;
		case 's':
			o->socket = optarg;
			break;
		case 'c':
			o->control = optarg;
			break;
		case 'd':
			o->daemon = optarg;
			break;
		case 't':
			o->tmp = optarg;
			break;
		case 'O':
			o->only = optarg;
			for (const char *p = optarg; p; p = next_item(p))
				if (!known_section(p)) {
					fprintf(stderr,
						"intercept-bench: --only: unknown section in '%s' "
						"(single, scaling, density, threads, fairness)\n",
						optarg);
					return -EINVAL;
				}
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("intercept-bench %s\n", PACKAGE_VERSION);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "intercept-bench: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return -EINVAL;
	}
	if (o->socket) {
		struct stat st;

		if (stat(o->socket, &st) < 0)
			return say_errno(-errno, "--socket %s", o->socket);
		if (!S_ISSOCK(st.st_mode))
			return say_errno(-ENOTSOCK, "--socket %s", o->socket);
	}
	if (!o->daemon && !o->socket) {
		len = readlink("/proc/self/exe", self, sizeof(self) - 16);
		if (len < 0)
			return -errno;
		self[len] = '\0';
		strcat(dirname(self), "/interceptd");
		/* Installed, the daemon lives in sbin while we live in bin. */
		o->daemon = access(self, X_OK) == 0 ? self : SBINDIR "/interceptd";
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ic_bench_case cases[128];
	char csv[PATH_MAX], svg[PATH_MAX];
	struct opts o;
	int q, failed = 0;
	size_t n;

	if (parse_opts(argc, argv, &o) < 0)
		return 2;
	if (geteuid() != 0) {
		fprintf(stderr, "intercept-bench: needs root (tmpfs, user namespace maps, "
				"interceptd)\n");
		return 2;
	}
	snprintf(csv, sizeof(csv), "%s/intercept-bench.csv", o.out);
	snprintf(svg, sizeof(svg), "%s/intercept-bench.svg", o.out);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	atexit(cleanup);
	if (setup_env(&o) < 0)
		return 1;
	n = plan(&o, cases, ARRAY_SIZE(cases));
	if (raise_fd_limit(cases, n) < 0)
		return 1;
	fprintf(stderr, "intercept-bench: preset %s, %zu cases, %d windows of %d ms each\n",
		o.p->name, n, o.p->t.windows, o.p->t.window_ms);
	for (size_t i = 0; i < n; i++) {
		bool fresh = strcmp(cases[i].section, "single") != 0;

		failed += run(&o, &cases[i], fresh, (int)i + 1, (int)n) < 0;
	}
	ic_bench_daemon_stop(&daemon_now);
	ic_bench_ratios(results, n_results);
	printf("intercept-bench, preset %s: median of %d windows of %d ms (fairness: %d of %d ms, "
	       "pooled); latency as each target times its calls\n",
	       o.p->name, o.p->t.windows, o.p->t.window_ms, o.p->t.windows,
	       o.p->fairness_window_ms);
	ic_bench_table(stdout, results, n_results);
	ic_bench_targets(stdout, results, n_results);
	q = ic_bench_csv(csv, results, n_results);
	if (q < 0)
		return say_errno(q, "cannot write %s", csv), 1;
	q = ic_bench_svg(svg, results, n_results);
	if (q == -ENODATA)
		printf("\nwrote %s (no scaling or density case to plot)\n", csv);
	else if (q < 0)
		return say_errno(q, "cannot plot %s", svg), 1;
	else
		printf("\nwrote %s and %s\n", csv, svg);
	free(results);
	if (failed)
		fprintf(stderr,
			"intercept-bench: %d of %zu cases failed (their lines above say why)\n",
			failed, n);
	return failed ? 1 : 0;
}
