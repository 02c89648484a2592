/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_SERVER_FRONT_LXC_H
#define IC_SERVER_FRONT_LXC_H

/* The LXC seccomp proxy front end (lxc.seccomp.notify.proxy, LXD's protocol). One SOCK_SEQPACKET
 * connection per running container, opened by its monitor; one datagram per notification,
 * carrying the notification, a cookie and three fds; one 136-byte datagram back. Connections
 * are sources (server/source.h) in the acceptors' epoll sets, like listeners. */

#include <stdint.h>

struct ic_source;

/* What the keeper holds with a monitor's connection, in place of an OCI message; once the
 * connection's container is known, followed by its id, init pid and policy, a line each. */
#define IC_LXC_HELD_MSG "L"

/* Front-end thread: accept every pending connection on the LXC socket and hand each to an
 * acceptor. 0, or -errno when accept failed for want of resources (the caller pauses). */
int ic_lxc_accept(int sock);
/* Main thread, at a server's start: serve again a connection the keeper held (fd, ours
 * whatever the outcome) with the message it held (len bytes, IC_LXC_HELD_MSG first); *ret gets
 * its source with a reference, NULL on failure. */
int ic_lxc_readopt(int fd, uint64_t key, const char *msg, size_t len, struct ic_source **ret);

#endif
