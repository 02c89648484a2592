/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_SERVER_FRONT_OCI_H
#define IC_SERVER_FRONT_OCI_H

#include <stddef.h>

struct ic_keeper_held;
struct ic_source;

/* The front-end thread: on the listening OCI seccomp agent socket (runc, crun, intercept-run:
 * one JSON "container process state" and the listener fd per connection) and, unless lxc_sock
 * is -1, the LXC proxy socket, whose connections it accepts for the acceptors. Main thread;
 * stop closes both sockets. */
int ic_front_oci_start(int sock, int lxc_sock);
void ic_front_oci_stop(void);
/* Main thread, at a server's start, before the front end runs: serve again the n listeners the
 * keeper held for the previous server, their messages read from the holdings file. srcs[i] gets
 * held[i]'s source with a reference, or NULL when it could not be served (its fd is then closed).
 */
void ic_front_oci_readopt(int holdings, struct ic_keeper_held *const *held, size_t n,
			  struct ic_source **srcs);

#endif
