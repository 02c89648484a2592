/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_COMMON_HIST_H
#define IC_COMMON_HIST_H

#include <stdint.h>

/* A log-bucketed latency histogram in ns: 8 sub-buckets per power of two (<= 12.5 % error).
 * One writer (its thread) with relaxed stores; readers merge copies. */
#define IC_HIST_SUB	8
#define IC_HIST_BUCKETS (64 * IC_HIST_SUB)

struct ic_hist {
	uint64_t count;
	uint64_t sum_ns; /* of every sample, for the metrics' _sum */
	uint64_t buckets[IC_HIST_BUCKETS];
};

void ic_hist_add(struct ic_hist *h, uint64_t ns);
/* dst += src, reading src with relaxed loads (src may be live). */
void ic_hist_merge(struct ic_hist *dst, const struct ic_hist *src);
/* Value at quantile q (0..1), the upper bound of its bucket; 0 when empty. */
uint64_t ic_hist_quantile(const struct ic_hist *h, double q);
/* Samples below ns: exact when ns is a power of two, which is always a bucket boundary. */
uint64_t ic_hist_count_below(const struct ic_hist *h, uint64_t ns);

#endif
