/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/macros.h"
#include "common/sock.h"
#include "tools/lxd-policy.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: interceptctl [-s SOCKET] [-c CONFIG] [-V] "
		"status|stats|containers|reload|upgrade [--json]\n"
		"       interceptctl [-s SOCKET] [-c CONFIG] metrics [--openmetrics]\n"
		"       interceptctl [-p POLICY] lxd-policy [FILE]\n"
		"metrics prints Prometheus text format 0.0.4; --openmetrics prints OpenMetrics "
		"1.0.0.\n"
		"lxd-policy turns `lxc config show` output (FILE or stdin) into a [policy POLICY] "
		"section.\n");
}

/* Local, no daemon: the section goes through the daemon's own loader before it is printed, so
 * what is printed loads. */
static int lxd_policy(const char *name, const char *path)
{
	_cleanup_fclose_ FILE *in = path && strcmp(path, "-") ? fopen(path, "re") : stdin;
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int mfd = -EBADF;
	char err[IC_CONF_ERR_MAX], loadpath[64];
	struct ic_conf *conf;
	unsigned skipped;
	size_t len = 0;
	FILE *out;
	int r;

	if (!in) {
		fprintf(stderr, "interceptctl: %s: %m\n", path);
		return 2;
	}
	out = open_memstream(&text, &len);
	if (!out)
		return 1;
	r = ic_lxd_policy(in, out, name, &skipped, err);
	fclose(out);
	if (in == stdin)
		in = NULL; /* not ours to close */
	if (r < 0) {
		fprintf(stderr, "interceptctl: %s: %s\n", path ? path : "stdin", err);
		return 1;
	}
	mfd = memfd_create("lxd-policy", MFD_CLOEXEC);
	if (mfd < 0 || write(mfd, text, len) != (ssize_t)len)
		return fprintf(stderr, "interceptctl: %m\n"), 1;
	snprintf(loadpath, sizeof(loadpath), "/proc/self/fd/%d", mfd);
	if (ic_conf_load(loadpath, true, &conf, err) < 0) {
		fprintf(stderr, "interceptctl: the converted section does not load: %s\n", err);
		return 1;
	}
	ic_conf_free(conf);
	fputs(text, stdout);
	if (skipped)
		fprintf(stderr,
			"interceptctl: %u LXD key%s without a counterpart left as comments\n",
			skipped, skipped == 1 ? "" : "s");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'}, {"config", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},	      {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},      {"openmetrics", no_argument, NULL, 'O'},
	    {"policy", required_argument, NULL, 'p'}, {}};
	const char *sock_path = NULL, *conf_path = NULL, *policy = "lxd";
	const char *opt = "";
	char req[128], buf[65536];
	_cleanup_close_ int fd = -EBADF;
	int c, code = -1;
	ssize_t n;

	while ((c = getopt_long(argc, argv, "s:c:p:jhV", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock_path = optarg;
			break;
		case 'c':
			conf_path = optarg;
			break;
		case 'j':
			opt = " --json";
			break;
		case 'O':
			opt = " --openmetrics";
			break;
		case 'p':
			policy = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("interceptctl %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc && strcmp(argv[optind], "lxd-policy") == 0 && optind + 2 >= argc)
		return lxd_policy(policy, argv[optind + 1]);
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	if (!sock_path) {
		struct ic_conf *conf;
		char err[IC_CONF_ERR_MAX];

		if (ic_conf_load(conf_path ? conf_path : IC_CONF_DEFAULT_PATH, conf_path != NULL,
				 &conf, err) < 0) {
			fprintf(stderr, "interceptctl: %s\n", err);
			return 2;
		}
		snprintf(buf, sizeof(buf), "%s", conf->server.control_socket);
		sock_path = buf;
		fd = ic_sock_connect(sock_path, SOCK_STREAM);
		ic_conf_free(conf);
	} else {
		fd = ic_sock_connect(sock_path, SOCK_STREAM);
	}
	if (fd < 0) {
		fprintf(stderr, "interceptctl: cannot connect to %s: %s (is interceptd running?)\n",
			sock_path, strerror(-fd));
		return 1;
	}
	snprintf(req, sizeof(req), "%s%s\n", argv[optind], opt);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		fprintf(stderr, "interceptctl: %m\n");
		return 1;
	}
	/* First byte: the daemon's verdict as a digit; the rest is for the user. */
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};

		if (poll(&p, 1, 10000) <= 0) {
			fprintf(stderr, "interceptctl: no answer from %s\n", sock_path);
			return 1;
		}
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		if (code < 0) {
			code = buf[0] - '0';
			fwrite(buf + 1, 1, (size_t)n - 1, code == 0 ? stdout : stderr);
		} else {
			fwrite(buf, 1, (size_t)n, code == 0 ? stdout : stderr);
		}
	}
	if (code < 0) {
		fprintf(stderr,
			"interceptctl: the daemon closed the connection without an answer\n");
		return 1;
	}
	return code;
}
