/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <urcu.h>

#include "common/cgroup.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/notify.h"
#include "common/sock.h"
#include "handlers/table.h"
#include "server/control.h"
#include "server/front-oci.h"
#include "server/journal.h"
#include "server/keeper.h"
#include "server/registry.h"
#include "server/server.h"
#include "server/source.h"
#include "server/stats.h"

/* How often queued requests are checked against their deadline. */
#define SWEEP_INTERVAL_MS 100
#define STATS_SAVE_SWEEPS 10

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: interceptd [-c FILE] [--check-config] [--takeover] [-V]\n"
		"  -c, --config FILE   configuration (default " IC_CONF_DEFAULT_PATH ", optional)\n"
		"      --check-config  validate the configuration and exit\n"
		"      --print-keys    list every configuration key with its default\n"
		"      --takeover      hand the running interceptd's containers over to this\n"
		"                      binary, and exit once it serves (starts it when none runs)\n"
		"      --print-example print the example configuration file\n"
		"  -V, --version       print the version\n"
		"Runs in the foreground and logs to stderr. SIGHUP reloads, SIGTERM drains and "
		"exits, SIGUSR2\n(or interceptctl upgrade) hands over to the binary now at this "
		"path. A keeper process\nholds every container's listener and restarts the "
		"server when it dies.\n");
}

/* Every container costs a listener fd and each request may open cgroup files: the soft limit
 * of 1024 would cap us near a thousand containers. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warn_errno(errno, "cannot raise the open file limit: %m");
}

/* What the handlers and the daemon itself use; README "Security model" says why each. */
static const uint64_t kept_caps =
    1ULL << CAP_SYS_ADMIN |	  /* mount, open_tree, setns, setxattr trusted.*, bpf, cgroups */
    1ULL << CAP_MKNOD |		  /* mknod */
    1ULL << CAP_DAC_OVERRIDE |	  /* acting as a caller that holds it; files of any owner */
    1ULL << CAP_DAC_READ_SEARCH | /* /proc/<pid> of every container, its root and cwd */
    1ULL << CAP_FOWNER |	  /* attributes and modes of nodes the container owns */
    1ULL << CAP_CHOWN |		  /* the null node a container owns for 5:1 */
    1ULL << CAP_FSETID |	  /* mknod with the caller's setgid directories */
    1ULL << CAP_SETUID |	  /* setfsuid, the FUSE helper as the caller */
    1ULL << CAP_SETGID |	  /* setfsgid, setgroups */
    1ULL << CAP_SYS_CHROOT |	  /* chroot into the caller's root */
    1ULL << CAP_SYS_PTRACE |	  /* process_vm_readv/writev, /proc/<pid>/root, ns, mem */
    1ULL << CAP_SYS_NICE |	  /* sched_setscheduler for a container */
    1ULL << CAP_SYS_RESOURCE |	  /* the open file limit, bpf's limits */
    1ULL << CAP_KILL |		  /* the FUSE helper, a container's tasks */
    1ULL << CAP_BPF |		  /* bpf device programs */
    1ULL << CAP_PERFMON;	  /* bpf, with CAP_BPF */

/* Before the keeper forks and before any thread: every process and thread inherits the result.
 * The bounding set loses the rest, so no exec (an upgrade, the FUSE helper) gets it back. */
static void restrict_capabilities(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2];
	int dropped = 0;

	for (int cap = 0; cap < 64; cap++) {
		int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);

		if (r < 0)
			break; /* past the kernel's last capability */
		if (r == 0 || (kept_caps & (1ULL << cap)))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			log_warn_errno(errno, "cannot drop capability %d from the bounding set: %m",
				       cap);
			continue;
		}
		dropped++;
	}
	if (syscall(SYS_capget, &h, data) < 0) {
		log_warn_errno(errno, "capget: %m");
		return;
	}
	for (int i = 0; i < 2; i++) {
		uint32_t keep = (uint32_t)(kept_caps >> (32 * i));

		data[i].effective &= keep;
		data[i].permitted &= keep;
		data[i].inheritable = 0;
	}
	if (syscall(SYS_capset, &h, data) < 0)
		log_warn_errno(errno, "cannot drop capabilities: %m");
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	log_debug("dropped %d capabilities from the bounding set", dropped);
}

/* A server that follows a crash reads the configuration again: a reload since the keeper
 * started must not be lost. The keeper's copy serves when the file no longer loads. */
static struct ic_conf *current_conf(struct ic_conf *inherited, const char *path, bool must_exist,
				    unsigned generation)
{
	char err[IC_CONF_ERR_MAX];
	struct ic_conf *conf;

	if (generation == 0)
		return inherited;
	if (ic_conf_load(path, must_exist, &conf, err) < 0) {
		log_error("%s; this server uses the configuration interceptd started with", err);
		return inherited;
	}
	ic_log_set_level(conf->server.log_level);
	ic_log_set_target(conf->server.log_target);
	ic_log_set_ratelimit(conf->server.log_ratelimit_burst,
			     conf->server.log_ratelimit_interval_ms);
	return conf;
}

/* Take again the listeners the keeper held, and answer what a crashed predecessor left. */
static void take_over(const struct ic_serve_ctx *ctx, struct ic_journal_orphan *orphans,
		      int n_orphans)
{
	_cleanup_free_ struct ic_source **srcs =
	    calloc(ctx->n_held ? ctx->n_held : 1, sizeof(*srcs));

	if (!srcs) {
		log_error("out of memory: the %zu listeners the keeper held are not served",
			  ctx->n_held);
		return;
	}
	ic_front_oci_readopt(ctx->holdings_fd, ctx->held, ctx->n_held, srcs);
	if (n_orphans > 0)
		ic_server_recover(orphans, (size_t)n_orphans, srcs, ctx->n_held);
	for (size_t i = 0; i < ctx->n_held; i++)
		ic_source_put(srcs[i]);
	if (ctx->generation)
		log_info("server generation %u: %zu listeners taken again from the keeper",
			 ctx->generation, ctx->n_held);
}

static int serve(struct ic_conf *conf, const char *conf_path, bool conf_must_exist,
		 const struct ic_serve_ctx *ctx)
{
	_cleanup_free_ struct ic_journal_orphan *orphans = NULL;
	_cleanup_free_ struct ic_stats *stats = NULL;
	int sfd, r, n_orphans = 0;
	unsigned sweeps = 0;
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	/* Blocked before any thread starts, so every thread inherits the mask. */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0)
		return log_error_errno(errno, "signalfd: %m");

	conf = current_conf(conf, conf_path, conf_must_exist, ctx->generation);
	/* Before any acceptor takes a slot: what the last server left in them. */
	r = ic_journal_map(ctx->journal_fd);
	if (r < 0)
		log_error_errno(r, "no journal (%m): requests in flight at a crash would hang");
	else
		n_orphans = ic_journal_take_orphans(&orphans);

	rcu_register_thread();
	ic_server_set_origin(ctx->keeper, ctx->generation);
	r = ic_server_init(conf, conf_path, conf_must_exist);
	if (r < 0)
		goto out;
	stats = calloc(1, sizeof(*stats));
	if (stats && ic_journal_take_stats(stats, sizeof(*stats)))
		ic_server_continue_stats(stats);
	take_over(ctx, orphans, n_orphans);
	r = ic_control_start(ctx->ctl_sock);
	if (r < 0)
		goto out;
	r = ic_front_oci_start(ctx->oci_sock, ctx->lxc_sock);
	if (r < 0)
		goto out_control;
	log_info("interceptd %s ready (pid %d)", PACKAGE_VERSION, (int)getpid());
	ic_keeper_ready();

	for (;;) {
		struct signalfd_siginfo si;
		struct pollfd p = {.fd = sfd, .events = POLLIN};
		char err[IC_CONF_ERR_MAX];
		int n = poll(&p, 1, SWEEP_INTERVAL_MS);

		if (n < 0 && errno != EINTR) {
			r = log_error_errno(errno, "poll: %m");
			break;
		}
		if (n <= 0) {
			ic_server_sweep();
			ic_registry_flush_logs();
			/* The counters as of a second ago, for a server that follows a crash. */
			if (stats && ++sweeps % STATS_SAVE_SWEEPS == 0) {
				ic_server_stats(stats);
				ic_journal_save_stats(stats, sizeof(*stats));
			}
			continue;
		}
		if (read(sfd, &si, sizeof(si)) != sizeof(si)) {
			if (errno == EINTR)
				continue;
			r = log_error_errno(errno, "signalfd: %m");
			break;
		}
		if (si.ssi_signo == SIGHUP) {
			(void)ic_server_reload(err, sizeof(err));
			continue;
		}
		log_info("signal %d: draining", (int)si.ssi_signo);
		r = 0;
		break;
	}
	ic_front_oci_stop();
out_control:
	ic_control_stop();
out:
	ic_server_drain();
	/* For the next server, after an upgrade. */
	if (stats) {
		ic_server_stats(stats);
		ic_journal_save_stats(stats, sizeof(*stats));
	}
	ic_server_fini();
	rcu_unregister_thread();
	close(sfd);
	log_info("interceptd exits");
	return r;
}

/* The running daemon's status as JSON ("status --json" on its control socket), NULL when it
 * does not answer within a second. */
static struct json_object *running_status(const char *ctl)
{
	_cleanup_close_ int fd = ic_sock_connect(ctl, SOCK_STREAM);
	char buf[8192];
	size_t len = 0;
	ssize_t n;

	if (fd < 0 || write(fd, "status --json\n", 14) != 14)
		return NULL;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};

		if (len >= sizeof(buf) - 1 || poll(&p, 1, 1000) <= 0)
			return NULL;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = 0;
	/* The first byte is the verdict. */
	return len > 1 && buf[0] == '0' ? json_tokener_parse(buf + 1) : NULL;
}

static long long status_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : -1;
}

/* --takeover: hand the running daemon's containers over to this binary (its keeper executes us
 * in its own process), and return once the next server serves. 1 when none runs. */
static int takeover(const struct ic_conf *conf)
{
	const char *ctl = conf->server.control_socket;
	char path[PATH_MAX], exe[PATH_MAX];
	struct json_object *st = running_status(ctl);
	long long keeper = status_int(st, "keeper_pid"), gen = status_int(st, "server_restarts");
	_cleanup_close_ int fd = -EBADF;
	ssize_t n;

	json_object_put(st);
	if (keeper <= 0)
		return 1;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return log_error_errno(errno, "/proc/self/exe: %m");
	exe[n] = 0;
	snprintf(path, sizeof(path), "%s.takeover", ctl);
	(void)unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, exe, (size_t)n) != n)
		return log_error_errno(errno, "cannot write %s: %m", path);
	if (kill((pid_t)keeper, SIGUSR2) < 0)
		return log_error_errno(errno, "cannot signal interceptd (pid %lld): %m", keeper);
	for (int i = 0; i < 300; i++) {
		usleep(50000);
		st = running_status(ctl);
		if (status_int(st, "keeper_pid") == keeper &&
		    status_int(st, "server_restarts") > gen) {
			json_object_put(st);
			log_info(
			    "interceptd (pid %lld) now runs %s, with every container it served",
			    keeper, exe);
			return 0;
		}
		json_object_put(st);
	}
	return log_error_errno(ETIMEDOUT, "interceptd (pid %lld) did not take over within 15 s",
			       keeper);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},  {"check-config", no_argument, NULL, 'C'},
	    {"print-keys", no_argument, NULL, 'K'},    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},	       {"takeover", no_argument, NULL, 'T'},
	    {"print-example", no_argument, NULL, 'E'}, {}};
	const char *path = IC_CONF_DEFAULT_PATH;
	bool must_exist = false, check = false, take = false;
	char err[IC_CONF_ERR_MAX];
	struct ic_serve_ctx ctx;
	struct ic_conf *conf;
	int c, r, code = 0;

	while ((c = getopt_long(argc, argv, "c:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			must_exist = true;
			break;
		case 'C':
			check = true;
			break;
		case 'T':
			take = true;
			break;
		case 'K':
			ic_conf_dump_keys(stdout);
			return 0;
		case 'E':
			ic_conf_dump_example(stdout);
			return 0;
		case 'V':
			printf("interceptd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "interceptd: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}

	r = ic_conf_load(path, must_exist, &conf, err);
	if (r < 0) {
		fprintf(stderr, "interceptd: %s\n", err);
		return 1;
	}
	if (check) {
		printf("%s: OK (%zu policies)\n", path, conf->n_policies);
		ic_conf_free(conf);
		return 0;
	}
	ic_log_set_level(conf->server.log_level);
	ic_log_set_target(conf->server.log_target);
	ic_log_set_ratelimit(conf->server.log_ratelimit_burst,
			     conf->server.log_ratelimit_interval_ms);

	if (geteuid() != 0)
		log_warn("not running as root: only containers of this user can be served");
	raise_fd_limit();
	restrict_capabilities();
	/* A worker may stand in a container's root between requests (doc/design.md §10): a crash
	 * then must not write a core there, and nobody but CAP_SYS_PTRACE may read our memory.
	 * Before the keeper forks, so the serving process inherits it (ptrace by root still
	 * works: the tests' PTRACE_SEIZE of a worker holds CAP_SYS_PTRACE). */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		log_warn_errno(errno, "cannot make the process non-dumpable: %m");
	r = ic_notif_check_sizes();
	if (r < 0) {
		log_error_errno(r,
				"this kernel's seccomp notification structs are not supported: %s",
				strerror(-r));
		ic_conf_free(conf);
		return 1;
	}
	r = ic_syscalls_init();
	if (r < 0 || ic_cgroup_init() < 0) {
		log_error("cannot resolve the syscall table or the cgroup mounts");
		ic_conf_free(conf);
		return 1;
	}
	if (take) {
		r = takeover(conf);
		if (r <= 0) {
			ic_conf_free(conf);
			return r < 0 ? 1 : 0;
		}
		/* Nobody runs: start as usual. */
	}
	/* The keeper returns here in every server it starts, and once itself when it is done. */
	r = ic_keeper_run(conf, argv, &ctx, &code);
	if (r < 0)
		return 1;
	if (r == 0)
		return code;
	return serve(conf, path, must_exist, &ctx) < 0 ? 1 : 0;
}
