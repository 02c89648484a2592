/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <urcu.h>

#include "common/cgroup.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/notify.h"
#include "handlers/table.h"
#include "server/control.h"
#include "server/front-oci.h"
#include "server/registry.h"
#include "server/server.h"

/* How often queued requests are checked against their deadline. */
#define SWEEP_INTERVAL_MS 100

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: interceptd [-c FILE] [--check-config] [-V]\n"
		"  -c, --config FILE   configuration (default " IC_CONF_DEFAULT_PATH ", optional)\n"
		"      --check-config  validate the configuration and exit\n"
		"      --print-keys    list every configuration key with its default\n"
		"  -V, --version       print the version\n"
		"Runs in the foreground and logs to stderr. SIGHUP reloads, SIGTERM drains and "
		"exits.\n");
}

/* Parent directories of the sockets, root-only. */
static int make_parent(const char *path)
{
	char dir[256];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	for (char *p = dir + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			if (mkdir(dir, 0755) < 0 && errno != EEXIST)
				return -errno;
			*p = '/';
		}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
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

static int run(struct ic_conf *conf, const char *conf_path, bool conf_must_exist)
{
	sigset_t mask;
	int sfd, r;

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

	rcu_register_thread();
	r = ic_server_init(conf, conf_path, conf_must_exist);
	if (r < 0)
		goto out;
	if ((r = make_parent(conf->server.oci_socket)) < 0 ||
	    (r = make_parent(conf->server.lxc_socket)) < 0 ||
	    (r = make_parent(conf->server.control_socket)) < 0) {
		log_error_errno(r, "cannot create the socket directory: %s", strerror(-r));
		goto out;
	}
	r = ic_control_start(conf->server.control_socket);
	if (r < 0)
		goto out;
	r = ic_front_oci_start(conf->server.oci_socket, conf->server.lxc_socket);
	if (r < 0)
		goto out_control;
	log_info("interceptd %s ready (pid %d)", PACKAGE_VERSION, (int)getpid());

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
	ic_server_fini();
	rcu_unregister_thread();
	close(sfd);
	log_info("interceptd exits");
	return r;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'}, {"check-config", no_argument, NULL, 'C'},
	    {"print-keys", no_argument, NULL, 'K'},   {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},	      {}};
	const char *path = IC_CONF_DEFAULT_PATH;
	bool must_exist = false, check = false;
	char err[IC_CONF_ERR_MAX];
	struct ic_conf *conf;
	int c, r;

	while ((c = getopt_long(argc, argv, "c:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			must_exist = true;
			break;
		case 'C':
			check = true;
			break;
		case 'K':
			ic_conf_dump_keys(stdout);
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
	return run(conf, path, must_exist) < 0 ? 1 : 0;
}
