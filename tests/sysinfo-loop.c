/* SPDX-License-Identifier: Apache-2.0 */
/* Runs inside a container: sysinfo-loop N [SECONDS [TOTALRAM [NODE [PAUSE_US]]]] calls sysinfo() N
 * times (or for SECONDS when non-zero) and prints "calls=N failures=F enosys=E p50_us=.. p99_us=..
 * max_us=..". A failing call is a failure, and so is a totalram other than TOTALRAM when given
 * (the kernel's own answer would show the host's); E of them failed with ENOSYS (a listener
 * lost). With NODE, every call is followed by mknod NODE c 1 3 and its unlink, counted and timed
 * the same way; with PAUSE_US, it sleeps that long between calls. SIGTERM ends the loop early,
 * results printed. Latencies are kept in log2 buckets of microseconds. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <time.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000, calls = 0, failures = 0, enosys = 0;
	const char *node = argc > 4 && *argv[4] ? argv[4] : NULL;
	long pause_us = argc > 5 ? atol(argv[5]) : 0;
	double seconds = argc > 2 ? atof(argv[2]) : 0;
	unsigned long long want = argc > 3 ? strtoull(argv[3], NULL, 10) : 0;
	struct timespec t0, t, a, b;
	unsigned long long buckets[40] = {0}, max_ns = 0;

	signal(SIGTERM, on_term);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!stop) {
		struct sysinfo si;

		if (seconds > 0) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			if ((double)(t.tv_sec - t0.tv_sec) +
				(double)(t.tv_nsec - t0.tv_nsec) / 1e9 >=
			    seconds)
				break;
		} else if (calls >= n) {
			break;
		}
		memset(&si, 0, sizeof(si));
		clock_gettime(CLOCK_MONOTONIC, &a);
		errno = 0;
		if (node && (calls & 1)) {
			if (mknod(node, S_IFCHR | 0600, makedev(1, 3)) < 0)
				failures++;
			enosys += errno == ENOSYS;
			/* Also after a failure answer to a call whose node was made. */
			(void)unlink(node);
			errno = 0;
		} else if (sysinfo(&si) < 0 || si.totalram == 0 ||
			   (want && (unsigned long long)si.totalram * si.mem_unit != want)) {
			failures++;
		}
		enosys += errno == ENOSYS;
		clock_gettime(CLOCK_MONOTONIC, &b);
		{
			unsigned long long ns =
			    (unsigned long long)(b.tv_sec - a.tv_sec) * 1000000000ULL +
			    (unsigned long long)(b.tv_nsec - a.tv_nsec);
			int k = 0;

			while (k < 39 && (1ULL << k) * 1000ULL < ns)
				k++;
			buckets[k]++;
			if (ns > max_ns)
				max_ns = ns;
		}
		calls++;
		if (pause_us > 0)
			usleep((useconds_t)pause_us);
	}
	/* A percentile is its bucket's upper bound: 2^k us. */
	{
		unsigned long long seen = 0, p50 = 0, p99 = 0;

		for (int k = 0; k < 40; k++) {
			seen += buckets[k];
			if (!p50 && seen * 100 >= (unsigned long long)calls * 50)
				p50 = 1ULL << k;
			if (!p99 && seen * 100 >= (unsigned long long)calls * 99)
				p99 = 1ULL << k;
		}
		printf("calls=%ld failures=%ld enosys=%ld p50_us=%llu p99_us=%llu max_us=%llu\n",
		       calls, failures, enosys, p50, p99, max_ns / 1000);
	}
	return failures ? 1 : 0;
}
