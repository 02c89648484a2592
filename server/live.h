/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_SERVER_LIVE_H
#define IC_SERVER_LIVE_H

struct ic_conf;
struct ic_topology;

/* What the server publishes to its acceptors and workers: RCU pointers, replaced on reload with
 * rcu_xchg_pointer (server.c) and read with rcu_dereference under rcu_read_lock. */
struct ic_live {
	struct ic_conf *conf;
	struct ic_topology *topo;
};

#endif
