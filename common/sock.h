/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_COMMON_SOCK_H
#define IC_COMMON_SOCK_H

#include <stddef.h>
#include <sys/types.h>

/* Bind and listen on a unix socket (removing a stale one), mode applied with fchmod before
 * bind. Returns the fd (O_CLOEXEC|O_NONBLOCK) or -errno. */
int ic_sock_listen(const char *path, int type, mode_t mode);
int ic_sock_connect(const char *path, int type);
/* Send data with fds in one sendmsg (SCM_RIGHTS). */
int ic_sock_send_fds(int sock, const void *data, size_t len, const int *fds, int n_fds);

#endif
