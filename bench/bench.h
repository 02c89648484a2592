/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_BENCH_BENCH_H
#define IC_BENCH_BENCH_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* What answers the target's syscall. */
enum ic_bench_under {
	IC_BENCH_NATIVE = 0,  /* no filter */
	IC_BENCH_ALLOW,	      /* a seccomp filter that allows everything */
	IC_BENCH_AGENT,	      /* val-0 agent: one thread, blocking RECV, SEND val 0, same CPU */
	IC_BENCH_AGENT_EPOLL, /* val-0 agent: one epoll thread per CPU, listeners partitioned */
	IC_BENCH_DAEMON,      /* interceptd */
	/* Same-work agents, as the two above with the work no honest answer can skip between
	 * RECV and SEND: NOTIF_ID_VALID, then the answer struct written into the caller. */
	IC_BENCH_SAMEWORK,
	IC_BENCH_SAMEWORK_EPOLL,
	_IC_BENCH_UNDER_MAX,
};

enum ic_bench_workload {
	IC_BENCH_SYSINFO = 0,
	IC_BENCH_MKNOD,	   /* mknod c 1:3 in a tmpfs, unlinked after each call */
	IC_BENCH_SETXATTR, /* trusted.overlay.opaque = "y" on a directory in the tmpfs */
	IC_BENCH_CONTINUE, /* mknod b 7:0: notified, and the policy answers CONTINUE */
	IC_BENCH_FIFO,	   /* mknod of a FIFO: the kernel's own cost of making a node there */
	_IC_BENCH_WORKLOAD_MAX,
};

extern const char *const ic_bench_under_name[_IC_BENCH_UNDER_MAX];
extern const char *const ic_bench_workload_name[_IC_BENCH_WORKLOAD_MAX];

/* One measured configuration. busy targets call in a loop, idle ones are registered and never
 * call, paced ones call every pace_us. Targets sharing a container id are one container. */
struct ic_bench_case {
	const char *section; /* single, scaling, threads, fairness */
	enum ic_bench_under under;
	enum ic_bench_workload wl;
	int busy, idle, paced;
	int pace_us;
	bool busy_share_id; /* the busy targets are one container (the fairness flood) */
	/* Fairness: the paced container registers first and calls from CPU 0, beside the
	 * acceptor that gets it; the busy ones run on the other CPUs (target.c, place()). */
	bool placed;
	int run;		/* fairness: which of the repeated comparisons, from 1 */
	int window_ms;		/* 0: the preset's */
	int acceptors, workers; /* interceptd; 0 = auto */
	int agent_threads;	/* IC_BENCH_AGENT_EPOLL */
};

/* Its figures: medians over the windows of each window's percentiles and rate, for the busy
 * targets, or the paced ones when there are any. */
struct ic_bench_result {
	struct ic_bench_case c;
	double p50_us, p99_us, p999_us, calls_per_s;
	long long samples;
	double busy_calls_per_s; /* with paced targets: the busy ones' rate beside them */
	/* interceptd: RSS growth / containers of the server, the keeper, both; < 0 unknown */
	double rss_server_kib_per_ctr, rss_keeper_kib_per_ctr, rss_kib_per_ctr;
	/* < 0: n/a. val0: against the val-0 agent; sw: against the same-work agent. */
	double ratio_native, ratio_val0_p50, ratio_val0_tput;
	double ratio_sw_p50, ratio_sw_p99, ratio_sw_tput;
};

struct ic_bench_timing {
	int windows;
	int window_ms;
	int warmup_ms;
};

/* Where the node and xattr workloads work: a tmpfs owned by the user namespace's root. */
#define IC_BENCH_USERNS_BASE 100000

struct ic_bench_env {
	const char *dir;    /* tmpfs for the node workloads */
	const char *socket; /* interceptd's OCI socket */
	int agent_cpu;	    /* IC_BENCH_AGENT: where agent and target run */
	struct ic_bench_timing t;
};

/* target.c */
pid_t ic_bench_fork(void);
void ic_bench_pin(int cpu);
/* In a target or an agent: gone with the driver, however it ends; -ESRCH if it is gone. */
int ic_bench_die_with(pid_t driver);

/* agent.c: forks a minimal agent. It closes close_fds, takes n listeners from sock (one
 * SCM_RIGHTS message each) and answers every notification with val 0 until it is killed:
 * threads 0 is one thread in a blocking RECV pinned to cpu (the kernel's floor), else that many
 * epoll threads with the listeners dealt round-robin. same_work: each answer first checks the
 * id with NOTIF_ID_VALID and writes a struct sysinfo to a sysinfo caller's args[0]. Its pid,
 * or -errno. */
pid_t ic_bench_agent_start(int sock, int n, int threads, int cpu, bool same_work, pid_t driver,
			   const int *close_fds, size_t n_close);
void ic_bench_sleep_ms(int ms);
int ic_bench_run_case(const struct ic_bench_env *env, const struct ic_bench_case *c,
		      struct ic_bench_result *res, pid_t daemon, const char *control);
void ic_bench_kill_children(void);

/* daemon.c */
struct ic_bench_daemon {
	char dir[256];
	char oci[300], lxc[300], control[300], conf[300], log[300], lock[300];
	pid_t pid; /* ours, the keeper; 0 when --socket named one already running */
	/* The keeper's process group: its servers too (one outlives a killed keeper); 0: none. */
	pid_t group;
};
int ic_bench_daemon_start(struct ic_bench_daemon *d, const char *binary, const char *parent,
			  int acceptors, int workers);
/* Its log's last lines, on stderr. */
void ic_bench_daemon_print_log(const struct ic_bench_daemon *d);
/* Whether its keeper has ended (*si, when si, says how); not reaped, so that its process group
 * keeps its number until ic_bench_daemon_stop. */
bool ic_bench_daemon_ended(const struct ic_bench_daemon *d, siginfo_t *si);
/* Stops it (SIGTERM, SIGKILL after 10 s; then whatever is left of its group), reaps it and
 * removes its directory. */
void ic_bench_daemon_stop(struct ic_bench_daemon *d);
/* Async-signal-safe: kills its keeper and servers (its process group). */
void ic_bench_daemon_kill(const struct ic_bench_daemon *d);
/* Async-signal-safe: removes its directory (files and sockets), whatever it left there. */
void ic_bench_daemon_remove(const struct ic_bench_daemon *d);
/* How many containers whose id starts with prefix the daemon holds, -errno. */
int ic_bench_daemon_count(const char *control, const char *prefix, long *n);
/* "status" over the control socket: the server's pid, its keeper's (0 without one) and the
 * container count, -errno. */
int ic_bench_daemon_status(const char *control, pid_t *pid, pid_t *keeper, long *containers);
long ic_bench_rss_kib(pid_t pid);

/* report.c */
void ic_bench_ratios(struct ic_bench_result *r, size_t n);
void ic_bench_table(FILE *f, const struct ic_bench_result *r, size_t n);
int ic_bench_csv(const char *path, const struct ic_bench_result *r, size_t n);
int ic_bench_svg(const char *path, const struct ic_bench_result *r, size_t n);
void ic_bench_targets(FILE *f, const struct ic_bench_result *r, size_t n);

#endif
