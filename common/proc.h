/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_COMMON_PROC_H
#define IC_COMMON_PROC_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

/* Start time of pid in clock ticks since boot (field 22 of /proc/PID/stat). */
int ic_proc_starttime(pid_t pid, uint64_t *ticks);
/* Seconds since boot, CLOCK_BOOTTIME, as a double. */
double ic_proc_boottime(void);
int ic_pidfd_open(pid_t pid, unsigned flags);
/* Readable name of the peer of a unix socket: "pid 123 (comm)". */
void ic_proc_peer_name(int sock, char *buf, size_t len);
uint64_t ic_now_ns(void);
/* Start fn(arg) as thread *t, pinned to cpu (-1: anywhere; best effort) and named name (at
 * most 15 characters). 0, or -errno when it could not start. */
int ic_thread_start(pthread_t *t, void *(*fn)(void *), void *arg, int cpu, const char *name);

#endif
