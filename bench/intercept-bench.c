/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* Per-syscall latency as the caller sees it: N timed calls, one SUMMARY line.
 *   intercept-bench [--label L] [--warmup W] SYSCALL N
 * Run it natively, then inside a container (intercept-run ... -- intercept-bench ...) to compare;
 * tools/quickstart bench does both in one run. */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static const char *node_dir; /* mknod and fifo: where the node is made and unlinked */
static char node_path[4096];

static int call(const char *what)
{
	struct sysinfo si;

	if (strcmp(what, "sysinfo") == 0)
		return sysinfo(&si);
	if (strcmp(what, "getppid") == 0)
		return (int)syscall(SYS_getppid);
	if (strcmp(what, "mknod") == 0)
		return mknod(node_path, S_IFCHR | 0666, makedev(1, 3));
	if (strcmp(what, "fifo") == 0)
		return mknod(node_path, S_IFIFO | 0666, 0);
	errno = EINVAL;
	return -1;
}

/* Outside the timed region: the node goes again so the next call creates it anew. */
static void after(const char *what)
{
	if (node_dir)
		unlink(node_path);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples, in microseconds. */
static double pct(const uint64_t *sorted, long n, double q)
{
	long i = (long)(q * (double)n + 0.5) - 1;

	return (double)sorted[i < 0 ? 0 : i >= n ? n - 1 : i] / 1000.0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"label", required_argument, NULL, 'l'}, {"warmup", required_argument, NULL, 'w'}, {}};
	const char *label = "native";
	long warmup = 1000, n;
	uint64_t *lat, t_start, t_end;
	int c;

	while ((c = getopt_long(argc, argv, "l:w:", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			label = optarg;
			break;
		case 'w':
			warmup = atol(optarg);
			break;
		default:
			return 2;
		}
	}
	if (argc - optind == 3 &&
	    (!strcmp(argv[optind], "mknod") || !strcmp(argv[optind], "fifo"))) {
		node_dir = argv[optind + 2];
		snprintf(node_path, sizeof(node_path), "%s/ic-bench-node", node_dir);
		unlink(node_path);
	} else if (argc - optind != 2) {
		fprintf(stderr,
			"Usage: intercept-bench [--label L] [--warmup W] sysinfo|getppid N\n");
		return 2;
	}
	n = atol(argv[optind + 1]);
	if (n <= 0 || n > 100000000 || call(argv[optind]) < 0 || (after(argv[optind]), 0)) {
		fprintf(stderr, "intercept-bench: bad syscall or count: %s\n",
			strerror(errno ? errno : EINVAL));
		return 2;
	}
	lat = malloc((size_t)n * sizeof(*lat));
	if (!lat) {
		fprintf(stderr, "intercept-bench: out of memory for %ld samples\n", n);
		return 1;
	}
	for (long i = 0; i < warmup; i++) {
		call(argv[optind]);
		after(argv[optind]);
	}
	t_start = now_ns();
	for (long i = 0; i < n; i++) {
		uint64_t t0 = now_ns();

		if (call(argv[optind]) < 0) {
			fprintf(stderr, "intercept-bench: %s failed: %m\n", argv[optind]);
			return 1;
		}
		lat[i] = now_ns() - t0;
		after(argv[optind]);
	}
	t_end = now_ns();
	/* mknod and fifo: calls/s over the timed calls alone, not the unlinks between them. */
	if (node_dir) {
		t_end = t_start;
		for (long i = 0; i < n; i++)
			t_end += lat[i];
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp_u64);
	printf("SUMMARY label=%s syscall=%s n=%ld p50_us=%.3f p99_us=%.3f p999_us=%.3f "
	       "calls_per_s=%.0f\n",
	       label, argv[optind], n, pct(lat, n, 0.5), pct(lat, n, 0.99), pct(lat, n, 0.999),
	       (double)n * 1e9 / (double)(t_end - t_start));
	free(lat);
	return 0;
}
