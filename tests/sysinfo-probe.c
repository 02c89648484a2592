/* SPDX-License-Identifier: Apache-2.0 */
/* Runs inside a container (static, also built -m32): prints what sysinfo() returned, one
 * key=value per line, and the struct size as this ABI sees it. With an argument "fault" it
 * passes a bad pointer and prints the errno instead. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sysinfo si;

	if (argc > 1 && strcmp(argv[1], "fault") == 0) {
		long r = syscall(SYS_sysinfo, (void *)16);

		printf("ret=%ld errno=%d\n", r, r < 0 ? errno : 0);
		return 0;
	}
	memset(&si, 0xa5, sizeof(si));
	if (sysinfo(&si) < 0) {
		printf("error=%d\n", errno);
		return 1;
	}
	printf("sizeof=%zu\n", sizeof(si));
	printf("uptime=%ld\n", (long)si.uptime);
	printf("loads=%lu,%lu,%lu\n", (unsigned long)si.loads[0], (unsigned long)si.loads[1],
	       (unsigned long)si.loads[2]);
	printf("totalram=%llu\n", (unsigned long long)si.totalram);
	printf("freeram=%llu\n", (unsigned long long)si.freeram);
	printf("sharedram=%llu\n", (unsigned long long)si.sharedram);
	printf("bufferram=%llu\n", (unsigned long long)si.bufferram);
	printf("totalswap=%llu\n", (unsigned long long)si.totalswap);
	printf("freeswap=%llu\n", (unsigned long long)si.freeswap);
	printf("procs=%u\n", (unsigned)si.procs);
	printf("totalhigh=%llu\n", (unsigned long long)si.totalhigh);
	printf("freehigh=%llu\n", (unsigned long long)si.freehigh);
	printf("mem_unit=%u\n", (unsigned)si.mem_unit);
	return 0;
}
