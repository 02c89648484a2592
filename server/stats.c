/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "common/macros.h"
#include "server/stats.h"

static const char *const answer_names[_IC_ANSWER_MAX] = {
    [IC_ANSWER_EMULATED] = "emulated", [IC_ANSWER_CONTINUED] = "continued",
    [IC_ANSWER_ERRNO] = "errno",       [IC_ANSWER_FAILED] = "failed",
    [IC_ANSWER_DROPPED] = "dropped",
};

const char *ic_answer_name(enum ic_answer a)
{
	return a < _IC_ANSWER_MAX ? answer_names[a] : "?";
}

void ic_stats_merge(struct ic_stats *dst, const struct ic_stats *src)
{
	for (int i = 0; i < IC_STATS_SYS; i++) {
		dst->by_sys[i] += IC_COUNTER_READ(src->by_sys[i]);
		ic_hist_merge(&dst->latency[i], &src->latency[i]);
	}
	for (int i = 0; i < _IC_ANSWER_MAX; i++)
		dst->answers[i] += IC_COUNTER_READ(src->answers[i]);
	dst->deadline_missed += IC_COUNTER_READ(src->deadline_missed);
	dst->queue_full += IC_COUNTER_READ(src->queue_full);
	dst->received += IC_COUNTER_READ(src->received);
	dst->recv_gone += IC_COUNTER_READ(src->recv_gone);
	dst->unvalidated += IC_COUNTER_READ(src->unvalidated);
}
