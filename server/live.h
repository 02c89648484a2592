/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_SERVER_LIVE_H
#define IC_SERVER_LIVE_H

#include "common/tsan.h"

struct ic_conf;
struct ic_topology;

/* What the server publishes to its acceptors and workers: RCU pointers, replaced on reload with
 * rcu_xchg_pointer (server.c) and read with rcu_dereference under rcu_read_lock. */
struct ic_live {
	struct ic_conf *conf;
	struct ic_topology *topo;
};

/* rcu_dereference and rcu_xchg_pointer of a field of struct ic_live (callers include urcu.h),
 * saying the hand-off to TSan (common/tsan.h). */
#define IC_LIVE_GET(field)                                                                         \
	({                                                                                         \
		__typeof__(field) live_ = rcu_dereference(field);                                  \
		if (live_)                                                                         \
			IC_HANDOFF_TAKE(live_);                                                    \
		live_;                                                                             \
	})
#define IC_LIVE_SWAP(field, v)                                                                     \
	({                                                                                         \
		__typeof__(field) next_ = (v);                                                     \
		if (next_)                                                                         \
			IC_HANDOFF_PUBLISH(next_);                                                 \
		rcu_xchg_pointer(&(field), next_);                                                 \
	})

#endif
