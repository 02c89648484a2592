/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_SERVER_FRONT_LXC_H
#define IC_SERVER_FRONT_LXC_H

/* The LXC seccomp proxy front end (lxc.seccomp.notify.proxy, LXD's protocol). One SOCK_SEQPACKET
 * connection per running container, opened by its monitor; one datagram per notification,
 * carrying the notification, a cookie and three fds; one 136-byte datagram back. Connections
 * are sources (server/source.h) in the acceptors' epoll sets, like listeners. */

/* Front-end thread: accept every pending connection on the LXC socket and hand each to an
 * acceptor. 0, or -errno when accept failed for want of resources (the caller pauses). */
int ic_lxc_accept(int sock);

#endif
