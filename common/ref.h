/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_COMMON_REF_H
#define IC_COMMON_REF_H

#include <stdbool.h>

/* Reference counts shared between threads (configs, containers, sources). Any thread.
 * ic_ref_inc is relaxed: the caller already holds a reference, or nobody else sees the object
 * yet. ic_ref_dec is acquire-release and true for the last reference, so the thread that frees
 * sees every write made under the others. */
static inline void ic_ref_inc(int *refs)
{
	__atomic_add_fetch(refs, 1, __ATOMIC_RELAXED);
}

static inline bool ic_ref_dec(int *refs)
{
	return __atomic_sub_fetch(refs, 1, __ATOMIC_ACQ_REL) == 0;
}

/* Take a reference unless the count already reached zero (the object is on its way out, and
 * only a lock-free lookup can still see it). */
static inline bool ic_ref_inc_unless_zero(int *refs)
{
	int v = __atomic_load_n(refs, __ATOMIC_RELAXED);

	while (v > 0)
		if (__atomic_compare_exchange_n(refs, &v, v + 1, false, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return true;
	return false;
}

#endif
