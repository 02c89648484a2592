/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_SERVER_STATS_H
#define IC_SERVER_STATS_H

#include <stdint.h>

#include "common/hist.h"
#include "handlers/table.h"

/* How a request was answered; `interceptctl stats` shows these. */
enum ic_answer {
	IC_ANSWER_EMULATED = 0, /* we did the work and answered (success or the syscall's errno) */
	IC_ANSWER_CONTINUED = 1,
	IC_ANSWER_ERRNO = 2,   /* refused with an errno of ours (policy failure answer) */
	IC_ANSWER_FAILED = 3,  /* deadline, full queue or internal error: failure answer sent */
	IC_ANSWER_DROPPED = 4, /* target gone before the answer */
	_IC_ANSWER_MAX
};

/* Index IC_SYS_MAX counts the syscalls that are no row of the table. */
#define IC_STATS_SYS (IC_SYS_MAX + 1)

/* One thread's counters. Written by that thread only (IC_COUNTER_ADD), summed by readers. */
struct ic_stats {
	uint64_t by_sys[IC_STATS_SYS];
	uint64_t answers[_IC_ANSWER_MAX];
	uint64_t deadline_missed;
	uint64_t queue_full;
	uint64_t received;
	uint64_t recv_gone;   /* RECV said ENOENT: the target was interrupted */
	uint64_t unvalidated; /* no listener to validate against: answered CONTINUE, not served */
	struct ic_hist latency[IC_STATS_SYS];
};

void ic_stats_merge(struct ic_stats *dst, const struct ic_stats *src);
const char *ic_answer_name(enum ic_answer a);

#endif
