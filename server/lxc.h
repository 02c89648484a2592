/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_SERVER_LXC_H
#define IC_SERVER_LXC_H

#include <linux/seccomp.h>
#include <stdint.h>
#include <sys/types.h>

#include "server/registry.h"

struct ic_acceptor;
struct ic_conf;
struct ic_request;
struct ic_topology;

/* LXC's seccomp_notify_proxy_msg: the 32-byte header of every datagram, both ways. */
struct ic_lxc_hdr {
	uint64_t reserved;
	int32_t monitor_pid;
	int32_t init_pid;
	uint16_t notif_size, resp_size, data_size, pad;
	uint64_t cookie_len;
};
_Static_assert(sizeof(struct ic_lxc_hdr) == 32, "LXC proxy header is 32 bytes");

#define IC_LXC_REPLY_SIZE (sizeof(struct ic_lxc_hdr) + 80 + 24)
#define IC_LXC_COOKIE_MAX 1024

/* One LXC monitor's connection (one running container). Owned by one acceptor like a listener;
 * requests in flight hold references, for their reply. */
struct ic_lxc_conn {
	struct ic_source src;
	int refs;		 /* atomic */
	pid_t peer_pid;		 /* SO_PEERCRED at accept */
	char peer[96];		 /* for log lines */
	struct ic_container *ct; /* set by the owning acceptor on the first valid datagram */
};

static inline struct ic_lxc_conn *ic_lxc_conn_of(struct ic_source *src)
{
	return caa_container_of(src, struct ic_lxc_conn, src);
}

/* Front-end thread: accept every pending connection on the LXC socket and hand each to an
 * acceptor. 0, or -errno when accept failed for want of resources (the caller pauses). */
int ic_lxc_accept(int sock);
/* Acceptor thread: read one datagram of c, validate it, queue it. Returns the queue index that
 * went from empty to non-empty, -1, or IC_ACCEPT_DROP when the connection is finished. */
int ic_lxc_receive(struct ic_acceptor *a, struct ic_lxc_conn *c, struct ic_topology *topo,
		   const struct ic_conf *conf);
/* Any thread: the one reply of an LXC request (exactly IC_LXC_REPLY_SIZE bytes). */
int ic_lxc_reply(struct ic_request *req, const struct seccomp_notif_resp *resp);
void ic_lxc_conn_ref(struct ic_lxc_conn *c);
void ic_lxc_conn_put(struct ic_lxc_conn *c);

#endif
