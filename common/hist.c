/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "common/hist.h"
#include "common/macros.h"

static unsigned bucket_of(uint64_t ns)
{
	unsigned msb, sub;

	if (ns < IC_HIST_SUB)
		return (unsigned)ns;
	msb = 63u - (unsigned)__builtin_clzll(ns);
	sub = (unsigned)(ns >> (msb - 3)) & (IC_HIST_SUB - 1);
	return (msb - 2) * IC_HIST_SUB + sub;
}

static uint64_t bucket_upper(unsigned b)
{
	unsigned msb, sub;

	if (b < IC_HIST_SUB)
		return b;
	msb = b / IC_HIST_SUB + 2;
	sub = b % IC_HIST_SUB;
	if (msb >= 63)
		return UINT64_MAX;
	return ((uint64_t)(IC_HIST_SUB + sub + 1) << (msb - 3)) - 1;
}

void ic_hist_add(struct ic_hist *h, uint64_t ns)
{
	unsigned b = bucket_of(ns);

	IC_COUNTER_ADD(h->buckets[b], 1);
	IC_COUNTER_ADD(h->count, 1);
	IC_COUNTER_ADD(h->sum_ns, ns);
}

void ic_hist_merge(struct ic_hist *dst, const struct ic_hist *src)
{
	for (unsigned i = 0; i < IC_HIST_BUCKETS; i++) {
		uint64_t v = IC_COUNTER_READ(src->buckets[i]);

		dst->buckets[i] += v;
		dst->count += v;
	}
	dst->sum_ns += IC_COUNTER_READ(src->sum_ns);
}

uint64_t ic_hist_quantile(const struct ic_hist *h, double q)
{
	uint64_t total = 0, seen = 0, want;

	for (unsigned i = 0; i < IC_HIST_BUCKETS; i++)
		total += h->buckets[i];
	if (total == 0)
		return 0;
	want = (uint64_t)(q * (double)total + 0.5);
	if (want < 1)
		want = 1;
	for (unsigned i = 0; i < IC_HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= want)
			return bucket_upper(i);
	}
	return bucket_upper(IC_HIST_BUCKETS - 1);
}

uint64_t ic_hist_count_below(const struct ic_hist *h, uint64_t ns)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < IC_HIST_BUCKETS && bucket_upper(i) < ns; i++)
		n += h->buckets[i];
	return n;
}
