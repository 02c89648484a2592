/* SPDX-License-Identifier: Apache-2.0 */
/* Runs inside a container: sysinfo-loop N [SECONDS [TOTALRAM]] calls sysinfo() N times (or for
 * SECONDS when non-zero) and prints "calls=N failures=F". A failing call is a failure, and so is
 * a totalram other than TOTALRAM when given (the kernel's own answer would show the host's). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <time.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000, calls = 0, failures = 0;
	double seconds = argc > 2 ? atof(argv[2]) : 0;
	unsigned long long want = argc > 3 ? strtoull(argv[3], NULL, 10) : 0;
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
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
		if (sysinfo(&si) < 0 || si.totalram == 0 ||
		    (want && (unsigned long long)si.totalram * si.mem_unit != want))
			failures++;
		calls++;
	}
	printf("calls=%ld failures=%ld\n", calls, failures);
	return failures ? 1 : 0;
}
