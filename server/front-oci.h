/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_SERVER_FRONT_OCI_H
#define IC_SERVER_FRONT_OCI_H

/* The front-end thread: the OCI seccomp agent socket (runc, crun, intercept-run: one JSON
 * "container process state" and the listener fd per connection) and, when lxc_path is given,
 * the LXC proxy socket, whose connections it accepts for the acceptors. Main thread. */
int ic_front_oci_start(const char *path, const char *lxc_path);
void ic_front_oci_stop(void);

#endif
